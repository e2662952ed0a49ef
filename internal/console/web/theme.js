// The theme the admin chose (light or dark; none: the system's), applied
// before the first paint. A classic script in <head>, as small as it can
// be: the modules run after parsing.
(function () {
  try {
    var t = localStorage.getItem("callgate-console-theme");
    if (t === "light" || t === "dark") document.documentElement.setAttribute("data-theme", t);
  } catch (e) { /* storage blocked: the system's theme */ }
})();
