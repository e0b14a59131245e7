"""The ceiling for the web benchmark: a bare WSGI app answering fixed bytes, served by
waitress with the kit's own settings. Usage: python bench/bare_wsgi.py PORT BODY_FILE [gzip]"""
import sys

from waitress import serve

from kit.core.config import WAITRESS


def main() -> None:
    port, body_file = int(sys.argv[1]), sys.argv[2]
    body = open(body_file, "rb").read()
    headers = [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(len(body)))]
    if len(sys.argv) > 3 and sys.argv[3] == "gzip":
        headers.append(("Content-Encoding", "gzip"))

    def app(environ, start_response):
        start_response("200 OK", headers)
        return [body]

    serve(app, host="127.0.0.1", port=port, **WAITRESS)


if __name__ == "__main__":
    main()
