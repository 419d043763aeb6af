# SPDX-License-Identifier: Apache-2.0
# Serves Debian's barbican-api WSGI application on 127.0.0.1:PORT with the standard library's
# wsgiref server: barbican-wsgi-api hard-codes /etc/barbican, this one takes our own files.
#   barbican-wsgi.py BARBICAN_CONF PASTE_INI PORT
import sys
from wsgiref import simple_server

conf, paste_ini, port = sys.argv[1], sys.argv[2], int(sys.argv[3])

# barbican.common.config parses the default files on import; parse again with ours only.
from barbican.common import config  # noqa: E402

config.parse_args(config.CONF, args=["--config-file", conf])

from paste import deploy  # noqa: E402

app = deploy.loadapp("config:" + paste_ini)


class QuietHandler(simple_server.WSGIRequestHandler):
    def log_message(self, *args):
        pass


server = simple_server.make_server("127.0.0.1", port, app, handler_class=QuietHandler)
print("barbican-api serving on 127.0.0.1:%d" % port, flush=True)
server.serve_forever()
