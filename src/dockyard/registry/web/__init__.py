"""The registry's web page: server-rendered (Jinja2), signed-in sessions with CSRF tokens."""
