package main

import (
	"context"
	"net/http"
)

// restBackend does the admin commands' work through a running server's
// REST API (/v3/apikeys, /v3/signing_keys) with a fullAccess key.
type restBackend struct{ c *adminClient }

func (b restBackend) Close() error { return nil }

func (b restBackend) CreateAPIKey(ctx context.Context, name, scope string) (adminReply[adminKey], error) {
	return adminCall[adminKey](ctx, b.c, http.MethodPost, "/apikeys", nil, map[string]string{"name": name, "scope": scope})
}

func (b restBackend) ListAPIKeys(ctx context.Context) (adminReply[[]adminKey], error) {
	return adminCall[[]adminKey](ctx, b.c, http.MethodGet, "/apikeys", nil, nil)
}

func (b restBackend) DeleteAPIKey(ctx context.Context, ref string) (adminReply[adminResult], error) {
	return adminCall[adminResult](ctx, b.c, http.MethodDelete, adminPath("apikeys", ref), nil, nil)
}

func (b restBackend) ListSigningKeys(ctx context.Context) (adminReply[[]adminSigningKey], error) {
	return adminCall[[]adminSigningKey](ctx, b.c, http.MethodGet, "/signing_keys", nil, nil)
}

// RotateSigningKey ignores opts: the server uses its own master key and
// leeway.
func (b restBackend) RotateSigningKey(ctx context.Context, _ rotateOptions) (adminReply[adminRotation], error) {
	return adminCall[adminRotation](ctx, b.c, http.MethodPost, "/signing_keys/rotate", nil, nil)
}
