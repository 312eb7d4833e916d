# ruff: noqa: E501 -- HTML templates: long lines read better than broken tags
"""The page templates (Jinja2, autoescaped), kept in Python so they ship inside the package."""

from __future__ import annotations

BASE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{% block title %}dockyard registry{% endblock %}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font-family:system-ui,sans-serif;margin:0;color:#1d2330;background:#f6f7f9}
header{background:#1d2330;color:#fff;padding:.6rem 1.2rem;display:flex;gap:1rem;align-items:center}
header a{color:#fff;text-decoration:none} header .who{margin-left:auto}
main{max-width:72rem;margin:1.2rem auto;padding:0 1.2rem}
table{border-collapse:collapse;width:100%;background:#fff} td,th{border-bottom:1px solid #e3e6eb;padding:.4rem .6rem;text-align:left}
code,.mono{font-family:ui-monospace,monospace;font-size:.9em} .muted{color:#6b7280}
.box{background:#fff;border:1px solid #e3e6eb;padding:1rem;margin:1rem 0}
input,select,button{font:inherit;padding:.3rem .5rem} .error{color:#b91c1c}
.badge{border:1px solid #9ca3af;border-radius:.6rem;padding:0 .5rem;font-size:.8em}
.config th{width:8rem} .history td:first-child{width:14rem}
</style></head><body>
<header><a href="/ui/"><b>dockyard registry</b></a>
<span class="who">{% if user %}signed in as <b id="user">{{ user }}</b>
<form method="post" action="/ui/logout" style="display:inline"><input type="hidden" name="csrf" value="{{ csrf }}">
<button id="signout">Sign out</button></form>{% else %}<a href="/ui/login">Sign in</a>{% endif %}</span></header>
<main>{% block main %}{% endblock %}</main></body></html>"""

LOGIN = """{% extends "base.html" %}{% block title %}Sign in{% endblock %}{% block main %}
<h1>Sign in</h1>{% if error %}<p class="error" id="error">{{ error }}</p>{% endif %}
<form method="post" action="/ui/login" class="box">
<input type="hidden" name="csrf" value="{{ login_csrf }}">
<p><label>User <input name="username" id="username" autocomplete="username" required></label></p>
<p><label>Password <input name="password" id="password" type="password" autocomplete="current-password" required>
</label></p><p><button id="signin">Sign in</button></p></form>{% endblock %}"""

REPOS = """{% extends "base.html" %}{% block title %}Repositories{% endblock %}{% block main %}
<h1>Repositories</h1>
<form method="get" action="/ui/"><input name="q" id="search" value="{{ q }}" placeholder="search">
<button id="search-go">Search</button></form>
<table id="repos"><tr><th>Repository</th><th>Visibility</th></tr>
{% for r in repos %}<tr><td><a href="/ui/repo?name={{ r.name|urlencode }}">{{ r.name }}</a></td>
<td><span class="badge">{{ "public" if r.public else "private" }}</span></td></tr>
{% else %}<tr><td colspan="2" class="muted">No repository you can see{% if q %} matches “{{ q }}”{% endif %}.</td></tr>
{% endfor %}</table>{% endblock %}"""

REPO = """{% extends "base.html" %}{% block title %}{{ name }}{% endblock %}{% block main %}
<h1 id="repo-name">{{ name }} <span class="badge" id="visibility">{{ "public" if public else "private" }}</span></h1>
<table id="tags"><tr><th>Tag</th><th>Digest</th><th>Size</th><th>Platforms</th><th>Pushed</th>{% if admin %}<th></th>{% endif %}</tr>
{% for t in tags %}<tr><td><a href="/ui/tag?name={{ name|urlencode }}&amp;tag={{ t.tag|urlencode }}">{{ t.tag }}</a></td>
<td class="mono">{{ t.digest[:19] }}…</td><td>{{ t.size|filesize }}</td><td>{{ t.platforms|join(", ") }}</td>
<td>{{ t.pushed }}</td>{% if admin %}<td><form method="post" action="/ui/tag/delete">
<input type="hidden" name="csrf" value="{{ csrf }}"><input type="hidden" name="name" value="{{ name }}">
<input type="hidden" name="tag" value="{{ t.tag }}"><button class="delete-tag">Delete</button></form></td>{% endif %}</tr>
{% else %}<tr><td colspan="6" class="muted">No tags.</td></tr>{% endfor %}</table>
{% if admin %}<div class="box" id="settings"><h2>Settings</h2>
<form method="post" action="/ui/repo/visibility"><input type="hidden" name="csrf" value="{{ csrf }}">
<input type="hidden" name="name" value="{{ name }}">
<input type="hidden" name="visibility" value="{{ "private" if public else "public" }}">
<button id="toggle-visibility">Make {{ "private" if public else "public" }}</button></form>
<h3>Collaborators</h3><table id="collaborators">{% for g in grants %}<tr><td>{{ g.grantee }}</td><td>{{ g.level }}</td></tr>
{% else %}<tr><td class="muted">None.</td></tr>{% endfor %}</table>
<form method="post" action="/ui/repo/collaborators"><input type="hidden" name="csrf" value="{{ csrf }}">
<input type="hidden" name="name" value="{{ name }}"><input name="grantee" id="grantee" placeholder="user or org/team">
<select name="level" id="level"><option>pull</option><option>push</option><option>admin</option><option>none</option></select>
<button id="add-collaborator">Grant</button></form>{% if message %}<p class="error">{{ message }}</p>{% endif %}</div>{% endif %}
{% endblock %}"""

TAG = """{% extends "base.html" %}{% block title %}{{ name }}:{{ tag }}{% endblock %}{% block main %}
<h1><a href="/ui/repo?name={{ name|urlencode }}">{{ name }}</a>:<span id="tag">{{ tag }}</span></h1>
<div class="box"><p>Pull: <code id="pull-command">docker pull {{ host }}/{{ name }}:{{ tag }}</code>
<button onclick="navigator.clipboard.writeText(document.getElementById('pull-command').textContent)">Copy</button></p>
<p>Digest <code id="digest">{{ digest }}</code> · {{ media_type }}</p></div>
{% for img in images %}<div class="box image"><h2>{{ img.platform or "image" }}</h2>
<h3>Layers</h3><table class="layers"><tr><th>#</th><th>Digest</th><th>Size</th><th>Type</th></tr>
{% for l in img.layers %}<tr class="layer"><td>{{ loop.index }}</td><td class="mono">{{ l.digest }}</td><td>{{ l.size|filesize }}</td>
<td class="muted">{{ l.mediaType }}</td></tr>{% endfor %}</table>
<h3>Config</h3><table class="config">
<tr><th>Env</th><td class="mono">{% for e in img.env %}{{ e }}<br>{% endfor %}</td></tr>
<tr><th>Entrypoint</th><td class="mono">{{ img.entrypoint|tojson }}</td></tr>
<tr><th>Cmd</th><td class="mono">{{ img.cmd|tojson }}</td></tr>
<tr><th>Labels</th><td class="mono">{% for k, v in img.labels.items() %}{{ k }}={{ v }}<br>{% endfor %}</td></tr></table>
<h3>History</h3><table class="history">{% for h in img.history %}<tr><td>{{ h.created }}</td>
<td class="mono">{{ h.created_by }}</td></tr>{% endfor %}</table></div>{% endfor %}
{% endblock %}"""

ERROR = """{% extends "base.html" %}{% block title %}{{ status }}{% endblock %}{% block main %}
<h1>{{ status }}</h1><p id="message">{{ message }}</p>{% endblock %}"""

TEMPLATES = {
    "base.html": BASE,
    "login.html": LOGIN,
    "repos.html": REPOS,
    "repo.html": REPO,
    "tag.html": TAG,
    "error.html": ERROR,
}
