// Package calltoken verifies callgate call tokens offline, for media servers
// and anything else that admits people to a call.
//
// A call token is a JWT (RFC 7519) that callgate signs with the Ed25519 key
// of an app (JWS alg "EdDSA", the key named by "kid"). A Verifier fetches
// callgate's public keys from its JWKS route (/.well-known/jwks.json),
// caches them, and checks tokens without a round trip to callgate:
//
//	v := calltoken.NewVerifier("https://callgate.example.com/.well-known/jwks.json",
//		calltoken.WithAppID("my-app"))
//	claims, err := v.Verify(ctx, token)
//	switch {
//	case errors.Is(err, calltoken.ErrExpired): // ask the client for a fresh token
//	case err != nil:                           // refuse
//	case claims.SessionID != room || !claims.Grants.Join: // refuse
//	default: // admit claims.UID (claims.Name) to the call
//	}
//
// Offline verification cannot see a revocation: a token stays valid until
// it expires even if its user logged out. Keep token lifetimes short, or ask
// callgate (GET /v3.0/call_tokens with the callToken header) when that matters.
//
// It imports nothing of callgate's (a media server that uses it pulls in
// none of the server), only golang-jwt and the standard library.
package calltoken
