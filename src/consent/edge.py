"""`consent edge varnish|nginx`: shared-cache configurations for `shared_cache=True`.

    consent edge varnish --backend HOST:PORT [--cookie-name N] [--path /consent]
    consent edge nginx --backend HOST:PORT --listen HOST:PORT --cache-dir DIR [...]

Both print a complete file (`varnishd -a LISTEN -f FILE`, `nginx -c FILE`) that keys pages
on the URL, the visitor's variant cookie and the Global Privacy Control signal instead of
the whole Cookie header (the variant cookie counts only beside the consent cookie it was
issued with: its tag is the end of that cookie's value), and never stores:

* the consent routes (`--path`, `/consent/state` among them), anything but GET and HEAD,
  requests with Authorization, requests with several variant or consent cookies, or
  with a variant cookie that is not bound to the consent cookie beside it (or missing);
* responses that set a cookie or that the app's Cache-Control keeps private, no-store or
  no-cache (its max-age and s-maxage set the lifetime);
* a response that varies on Cookie without naming its variant (`Consent-Variant`), or
  whose variant is not the key the edge used: the origin decides from the signed cookie,
  and says `private, no-store` itself too (docs/caching.md).

A miss goes to the origin with the request's real Cookie header. Browsers still get
`Vary: Cookie` (their own caches must not reuse a page across a consent change).
"""

from __future__ import annotations

import argparse
import re
import sys

from consent.site import check_cookie_settings
from consent.variant import TAG_LENGTH, variant_cookie_name

__all__ = ["add_command", "nginx_conf", "run", "varnish_vcl"]

_HOST_PORT = re.compile(r"(?P<host>[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\]):(?P<port>[0-9]{1,5})")
# Accept-Language in the key stands for the `Vary: Accept-Language` nginx is told to ignore.
_NGINX_KEY = "$scheme|$http_host|$request_uri|$consent_key|$consent_gpc|$http_accept_language"
_REGEX_SPECIAL = re.compile(r"([\\.^$|?*+()\[\]{}])")


def _host_port(text: str, option: str) -> tuple[str, int]:
    found = _HOST_PORT.fullmatch(text)
    if found is None or not 0 < int(found["port"]) < 65536:
        raise ValueError(f"{option} must be HOST:PORT such as 127.0.0.1:8000, not {text!r}")
    return found["host"], int(found["port"])


def _escape(text: str) -> str:
    """`text` as a literal in a PCRE pattern (Varnish and nginx both use PCRE)."""
    return _REGEX_SPECIAL.sub(r"\\\1", text)


def _check(cookie_name: str, path: str) -> None:
    # The middleware's own checks: names and paths it would refuse make no edge either.
    check_cookie_settings(cookie_name, path, None, "lax", None)


def varnish_vcl(backend: str, *, cookie_name: str = "consent", path: str = "/consent") -> str:
    """A VCL 4.1 file for Varnish 7 in front of the origin at `backend` (HOST:PORT)."""
    _check(cookie_name, path)
    host, port = _host_port(backend, "--backend")
    consent = _escape(cookie_name)
    variant = _escape(variant_cookie_name(cookie_name))
    route = _escape(path)
    tag = f"[A-Za-z0-9_-]{{{TAG_LENGTH}}}"  # (the tag's alphabet holds no `#`, `.` or `;`)
    return f"""vcl 4.1;
# Made by `consent edge varnish` for ConsentMiddleware(..., shared_cache=True).
# Pages are keyed on the URL, the `{variant_cookie_name(cookie_name)}` cookie and Sec-GPC,
# never on the whole Cookie header; the origin always decides from the signed cookie.

import std;

backend origin {{
    .host = "{host.strip("[]")}";
    .port = "{port}";
}}

sub vcl_recv {{
    # HTTP/2 may split Cookie (and a client may repeat Sec-GPC): read them whole.
    std.collect(req.http.Cookie, "; ");
    std.collect(req.http.Sec-GPC, ", ");
    unset req.http.X-Consent-Key;
    unset req.http.X-Consent-GPC;
    unset req.http.X-Consent-Pair;
    if (req.method != "GET" && req.method != "HEAD") {{
        return (pass);
    }}
    # The consent routes (choices, preferences, /state) are never cached.
    if (req.url ~ "^{route}([/?]|$)") {{
        return (pass);
    }}
    if (req.http.Authorization) {{
        return (pass);
    }}
    # Several variant or consent cookies (one may be planted): no one key to trust.
    if (req.http.Cookie ~ "(^|;)\\s*{variant}=[^;]*;(.*;)?\\s*{variant}=" ||
        req.http.Cookie ~ "(^|;)\\s*{consent}=[^;]*;(.*;)?\\s*{consent}=") {{
        return (pass);
    }}
    if (req.http.Sec-GPC ~ "(^|,)\\s*1\\s*(,|$)") {{
        set req.http.X-Consent-GPC = "1";
    }}
    if (req.http.Cookie ~ "(^|;)\\s*({variant}|{consent})=") {{
        # The variant cookie is `<variant>.<tag>`, the tag the end of the consent cookie it
        # was issued with: it names a variant only beside that cookie. A marker planted
        # alone or beside another visitor's cookie, or a cookie without its marker: the
        # origin (no lookup, nothing stored). The back-reference compares the two ends.
        if (req.http.Cookie ~ "(^|;)\\s*{variant}=[a-z0-9-]+\\.{tag}(;|$)" &&
            req.http.Cookie ~ "(^|;)\\s*{consent}=") {{
            set req.http.X-Consent-Pair =
                regsub(req.http.Cookie, "^(.*;)?\\s*{consent}=([^;]*).*$", "\\2") + "#" +
                regsub(req.http.Cookie, "^(.*;)?\\s*{variant}=([^;]*).*$", "\\2");
            if (req.http.X-Consent-Pair ~ "({tag})#[a-z0-9-]+\\.\\1$") {{
                set req.http.X-Consent-Key = regsub(
                    req.http.X-Consent-Pair, "^.*#([a-z0-9-]+)\\.[^.]*$", "\\1");
            }}
            unset req.http.X-Consent-Pair;
        }}
        if (!req.http.X-Consent-Key) {{
            return (pass);
        }}
    }} elsif (req.http.X-Consent-GPC) {{
        set req.http.X-Consent-Key = "none-gpc";
    }} else {{
        set req.http.X-Consent-Key = "none";
    }}
    return (hash);
}}

sub vcl_hash {{
    hash_data(req.url);
    if (req.http.Host) {{
        hash_data(req.http.Host);
    }} else {{
        hash_data(server.ip);
    }}
    hash_data(req.http.X-Consent-Key);
    if (req.http.X-Consent-GPC) {{
        hash_data("gpc");
    }}
    return (lookup);
}}

sub vcl_backend_response {{
    if (bereq.uncacheable) {{
        return (deliver);
    }}
    if (beresp.http.Set-Cookie ||
        beresp.http.Cache-Control ~ "(?i)(^|[\\s,])(private|no-store|no-cache)([\\s,=]|$)" ||
        beresp.http.Surrogate-Control ~ "(?i)no-store" ||
        beresp.http.Vary ~ "(^|,)\\s*\\*\\s*(,|$)" ||
        (beresp.http.Vary ~ "(?i)(^|,)\\s*cookie\\s*(,|$)" && !beresp.http.Consent-Variant) ||
        (beresp.http.Consent-Variant &&
         beresp.http.Consent-Variant != bereq.http.X-Consent-Key) ||
        beresp.ttl <= 0s) {{
        # Not stored; later requests with this key go to the origin for a while.
        set beresp.ttl = 120s;
        set beresp.uncacheable = true;
        return (deliver);
    }}
    # The key replaces Cookie in Vary for this cache; browsers get the origin's Vary back.
    if (beresp.http.Vary) {{
        set beresp.http.X-Consent-Vary = beresp.http.Vary;
        set beresp.http.Vary = regsuball(beresp.http.Vary, "(?i)(^|,)\\s*cookie\\s*(?=,|$)", "");
        set beresp.http.Vary = regsub(beresp.http.Vary, "^[\\s,]+", "");
        if (beresp.http.Vary == "") {{
            unset beresp.http.Vary;
        }}
    }}
    return (deliver);
}}

sub vcl_deliver {{
    if (resp.http.X-Consent-Vary) {{
        set resp.http.Vary = resp.http.X-Consent-Vary;
        unset resp.http.X-Consent-Vary;
    }}
    if (obj.hits > 0) {{
        set resp.http.X-Consent-Cache = "HIT";
    }} else {{
        set resp.http.X-Consent-Cache = "MISS";
    }}
}}
"""


def nginx_conf(
    backend: str,
    listen: str,
    cache_dir: str,
    *,
    cookie_name: str = "consent",
    path: str = "/consent",
) -> str:
    """A complete nginx.conf proxying `listen` to the origin at `backend`, its cache and
    temporary files under `cache_dir` (an absolute path)."""
    _check(cookie_name, path)
    _host_port(backend, "--backend")
    _host_port(listen, "--listen")
    if not cache_dir.startswith("/") or any(c in cache_dir for c in ";{}\"'\\$ \t\r\n"):
        raise ValueError(f"--cache-dir must be an absolute path without spaces, not {cache_dir!r}")
    cache_dir = cache_dir.rstrip("/") or "/"
    consent = _escape(cookie_name)
    variant = _escape(variant_cookie_name(cookie_name))
    route = _escape(path)
    tag = f"[A-Za-z0-9_-]{{{TAG_LENGTH}}}"  # (the tag's alphabet holds no `#`, `.` or `;`)
    return f"""# Made by `consent edge nginx` for ConsentMiddleware(..., shared_cache=True).
# Pages are keyed on the URL, the `{variant_cookie_name(cookie_name)}` cookie and Sec-GPC,
# never on the whole Cookie header; the origin always decides from the signed cookie.
worker_processes auto;

events {{
    worker_connections 1024;
}}

http {{
    access_log off;
    client_body_temp_path {cache_dir}/body;
    proxy_temp_path {cache_dir}/proxy;
    fastcgi_temp_path {cache_dir}/fastcgi;
    uwsgi_temp_path {cache_dir}/uwsgi;
    scgi_temp_path {cache_dir}/scgi;
    proxy_cache_path {cache_dir}/pages levels=1:2 keys_zone=consent_pages:10m
                     max_size=1g inactive=10m use_temp_path=off;

    # The variant cookie is `<variant>.<tag>`, the tag the end of the consent cookie it was
    # issued with: it names a variant only beside that cookie (a back-reference compares
    # the two ends). Without either cookie: the undecided variant. Anything else (a marker
    # planted alone or beside another visitor's cookie, a cookie without its marker, a
    # malformed marker): "!", the origin, nothing stored.
    map $http_cookie $consent_marker {{
        "~(?:^|;)\\s*{variant}=(?<marker>[a-z0-9-]+\\.{tag})(?:;|$)" $marker;
        "~(?:^|;)\\s*{variant}=" "!";
        default "";
    }}
    map $http_cookie $consent_value {{
        "~(?:^|;)\\s*{consent}=(?<raw>[^;]*)" "=$raw";
        default "";
    }}
    map "$consent_value#$consent_marker" $consent_named {{
        "#" "";
        "~^=.*({tag})#(?<named>[a-z0-9-]+)\\.\\1$" $named;
        default "!";
    }}
    map $http_sec_gpc $consent_gpc {{
        "~(?:^|,)\\s*1\\s*(?:,|$)" 1;
        default "";
    }}
    map "$consent_named:$consent_gpc" $consent_key {{
        "~^:1$" none-gpc;
        "~^:$" none;
        "~^(?<keyed>[a-z0-9-]+):1?$" $keyed;
        default "!";
    }}
    # Several variant or consent cookies (one may be planted): no one key to trust.
    map $http_cookie $consent_several {{
        "~(?:^|;)\\s*{variant}=[^;]*;(?:.*;)?\\s*{variant}=" 1;
        "~(?:^|;)\\s*{consent}=[^;]*;(?:.*;)?\\s*{consent}=" 1;
        default 0;
    }}
    # The consent routes (choices, preferences, /state) are never cached.
    map $uri $consent_route {{
        "~^{route}(?:/|$)" 1;
        default 0;
    }}
    map $consent_key $consent_unbound {{
        "!" 1;
        default 0;
    }}
    map "$consent_route$consent_several$consent_unbound$http_authorization" $consent_skip {{
        "000" 0;
        default 1;
    }}
    # After the origin answered: a page that varies on Cookie must name its variant, and
    # the variant it names must be the key used; `Vary: *` is never stored.
    map $upstream_http_vary $consent_vary_cookie {{
        "~(?:^|,)\\s*\\*\\s*(?:,|$)" star;
        "~*(?:^|,)\\s*cookie\\s*(?:,|$)" 1;
        default 0;
    }}
    map "$consent_vary_cookie|$upstream_http_consent_variant|$consent_key" $consent_refuse {{
        "~^0\\|\\|" 0;
        "~^[01]\\|([^|]+)\\|\\1$" 0;
        default 1;
    }}

    server {{
        listen {listen};

        location / {{
            proxy_pass http://{backend};
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $http_host;
            proxy_cache consent_pages;
            proxy_cache_key "{_NGINX_KEY}";
            proxy_cache_bypass $consent_skip;
            proxy_no_cache $consent_skip $consent_refuse;
            # Keyed on the variant (and Accept-Language) instead; Vary reaches browsers.
            proxy_ignore_headers Vary;
            # Without Cache-Control or Expires from the app; Set-Cookie, private, no-store
            # and no-cache are never stored.
            proxy_cache_valid 200 301 2m;
            proxy_cache_lock on;
            add_header X-Consent-Cache $upstream_cache_status always;
        }}
    }}
}}
"""


def add_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `consent edge` to the `consent` command's subcommands."""
    edge = commands.add_parser("edge", help="print a shared-cache configuration")
    kinds = edge.add_subparsers(dest="edge", required=True)
    for kind in ("varnish", "nginx"):
        parser = kinds.add_parser(kind, help=f"a complete {kind} configuration")
        parser.add_argument("--backend", required=True, help="the origin, HOST:PORT")
        if kind == "nginx":
            parser.add_argument("--listen", required=True, help="where nginx listens, HOST:PORT")
            parser.add_argument("--cache-dir", required=True, help="cache and temporary files")
        parser.add_argument(
            "--cookie-name", default="consent", help="the middleware's cookie_name (consent)"
        )
        parser.add_argument("--path", default="/consent", help="the middleware's path (/consent)")


def run(args: argparse.Namespace) -> int:
    """Print the configuration `args` ask for; 2 with a message for a bad option."""
    try:
        if args.edge == "varnish":
            text = varnish_vcl(args.backend, cookie_name=args.cookie_name, path=args.path)
        else:
            text = nginx_conf(
                args.backend,
                args.listen,
                args.cache_dir,
                cookie_name=args.cookie_name,
                path=args.path,
            )
    except ValueError as error:
        print(f"consent edge: {error}", file=sys.stderr)
        return 2
    print(text, end="")
    return 0
