# SPDX-License-Identifier: Apache-2.0
# Serves Debian's barbican-api WSGI application on 127.0.0.1:PORT with the standard library's
# wsgiref server: barbican-wsgi-api hard-codes /etc/barbican, this one takes our own files.
#   barbican-wsgi.py BARBICAN_CONF PASTE_INI PORT [TOKENS_JSON]
# TOKENS_JSON, {"<token>": {"user": ..., "project": ..., "roles": "a,b"}, ...}, stands in for
# Keystone's auth_token middleware: a request whose X-Auth-Token is listed there reaches
# Barbican as that user, project and roles, whatever identity headers it carried, as behind
# Keystone. Other requests go to the unauthenticated pipeline unchanged (X-Project-Id says
# the project; with no X-Roles, Barbican makes the caller an admin of that project).
import json
import sys
from wsgiref import simple_server

conf, paste_ini, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
tokens = {}
if len(sys.argv) > 4:
    with open(sys.argv[4]) as f:
        tokens = json.load(f)

# barbican.common.config parses the default files on import; parse again with ours only.
from barbican.common import config  # noqa: E402

config.parse_args(config.CONF, args=["--config-file", conf])

from paste import deploy  # noqa: E402

barbican = deploy.loadapp("config:" + paste_ini)


def app(environ, start_response):
    who = tokens.get(environ.get("HTTP_X_AUTH_TOKEN", ""))
    if who is not None:
        for h in ("USER_ID", "PROJECT_ID", "ROLES", "DOMAIN_ID", "USER_DOMAIN_ID"):
            environ.pop("HTTP_X_" + h, None)
        environ["HTTP_X_USER_ID"] = who["user"]
        environ["HTTP_X_PROJECT_ID"] = who["project"]
        environ["HTTP_X_ROLES"] = who["roles"]
    return barbican(environ, start_response)


class QuietHandler(simple_server.WSGIRequestHandler):
    def log_message(self, *args):
        pass


server = simple_server.make_server("127.0.0.1", port, app, handler_class=QuietHandler)
print("barbican-api serving on 127.0.0.1:%d" % port, flush=True)
server.serve_forever()
