"""gradbook's JupyterLab server: Debian's jupyterlab_server (2.16) `LabServerApp` on jupyter_server
1.23, serving the front end that `scripts/lab.mjs` builds into dist/lab/.

What it adds to LabServerApp:
- `GET /api/me` (an identity) and the websocket `/api/events/subscribe` (accepted, silent):
  JupyterLab 4 calls both and jupyter_server 1.23 has neither (they would 404 forever);
- a copy of the page config for each page: jupyterlab_server 2.16 writes `treePath` and
  `notFoundUrl` into one shared dict, so after one unknown `/lab/...` URL every later page
  said "Path Not Found".

Run: `PYTHONPATH=lab/server /usr/bin/python3 -m gradbook_lab [jupyter server options]`
(`npm start` does). Another app can reuse it: JupyterHub's single-user server takes
`JUPYTERHUB_SINGLEUSER_APP=gradbook_lab.GradbookLabApp`.
"""

import copy
import json
import os

from jupyter_core.paths import jupyter_config_dir
from jupyter_server.base.handlers import APIHandler, JupyterHandler
from jupyter_server.base.zmqhandlers import WebSocketMixin
from jupyterlab_server import LabServerApp
from jupyterlab_server.handlers import LabHandler, NotFoundHandler
from tornado import web, websocket
from traitlets import Unicode, default

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def _user_name(user):
    """jupyter_server 1.x's current user: a string (token login) or a dict (JupyterHub's user model)."""
    if isinstance(user, dict):
        return str(user.get("name") or user.get("username") or "user")
    return str(user or "user")


class IdentityHandler(APIHandler):
    """`GET /api/me` as jupyter_server 2 answers it: who is logged in, and which of the permissions
    asked for (`?permissions={"resource": ["action"]}`) the server's authorizer grants."""

    @web.authenticated
    def get(self):
        name = _user_name(self.current_user)
        if name.startswith("anonymous-") or len(name) == 32 and all(c in "0123456789abcdef" for c in name):
            display = "gradbook user"
        else:
            display = name
        initials = "".join(w[0] for w in display.split()[:2]).upper() or "U"
        requested = self.get_argument("permissions", "{}")
        try:
            resources = json.loads(requested)
        except ValueError:
            raise web.HTTPError(400, "permissions should be a JSON object of resource: [actions]")
        if not isinstance(resources, dict):
            raise web.HTTPError(400, "permissions should be a JSON object of resource: [actions]")
        permissions = {
            resource: [a for a in actions if self.authorizer.is_authorized(self, self.current_user, a, resource)]
            for resource, actions in resources.items()
            if isinstance(actions, list)
        }
        self.finish(
            json.dumps(
                {
                    "identity": {
                        "username": name,
                        "name": display,
                        "display_name": display,
                        "initials": initials,
                        "avatar_url": None,
                        "color": None,
                    },
                    "permissions": permissions,
                }
            )
        )


class EventsSubscribeHandler(WebSocketMixin, websocket.WebSocketHandler, JupyterHandler):
    """`/api/events/subscribe`: jupyter_server 1.23 has no event bus, so the socket stays open and silent."""

    def set_default_headers(self):
        pass  # JupyterHandler's headers make no sense on a websocket

    async def get(self, *args, **kwargs):
        if self.get_current_user() is None:
            raise web.HTTPError(403)
        await super().get(*args, **kwargs)

    def on_message(self, message):
        pass


class _PageConfigCopy:
    """Builds the page config in a copy of the shared dict, so that one page's URL-derived
    entries (treePath, notFoundUrl, mode, workspace) never reach another page; names the
    bundle of the current build (a rebuild while the server runs is picked up)."""

    def get_page_config(self):
        shared = self.settings.setdefault("page_config_data", {})
        self.settings["page_config_data"] = copy.deepcopy(shared)
        try:
            page_config = super().get_page_config()
        finally:
            self.settings["page_config_data"] = shared
        bundle = self.extensionapp.build_info().get("bundle")
        if not bundle:
            raise web.HTTPError(503, f"no JupyterLab front end in {self.extensionapp.build_dir} (run `node scripts/lab.mjs`)")
        page_config["gradbookBundle"] = bundle
        return page_config


class GradbookLabHandler(_PageConfigCopy, LabHandler):
    pass


class GradbookNotFoundHandler(_PageConfigCopy, NotFoundHandler):
    pass


class GradbookLabApp(LabServerApp):
    """JupyterLab 4.6 (gradbook's build) on Debian's Jupyter server."""

    name = "gradbook_lab"
    app_name = "JupyterLab"
    extension_url = "/lab"
    default_url = "/lab"
    load_other_extensions = True
    file_url_prefix = "/lab/tree"

    build_dir = Unicode(
        os.environ.get("GRADBOOK_LAB_DIR") or os.path.join(ROOT, "dist", "lab"),
        config=True,
        help="The front end built by scripts/lab.mjs (static/, schemas/, themes/).",
    )

    @default("app_version")
    def _app_version(self):
        return self.build_info().get("jupyterlab", "4.6")

    @default("static_dir")
    def _static_dir(self):
        return os.path.join(self.build_dir, "static")

    @default("schemas_dir")
    def _schemas_dir(self):
        return os.path.join(self.build_dir, "schemas")

    @default("themes_dir")
    def _themes_dir(self):
        return os.path.join(self.build_dir, "themes")

    @default("templates_dir")
    def _templates_dir(self):
        return os.path.join(HERE, "templates")

    @default("user_settings_dir")
    def _user_settings_dir(self):
        return os.path.join(jupyter_config_dir(), "lab", "user-settings")

    @default("workspaces_dir")
    def _workspaces_dir(self):
        return os.path.join(jupyter_config_dir(), "lab", "workspaces")

    @default("app_settings_dir")
    def _app_settings_dir(self):
        return os.path.join(HERE, "settings")

    def initialize_settings(self):
        super().initialize_settings()
        if not self.build_info().get("bundle"):
            raise SystemExit(
                f"gradbook_lab: no front end in {self.build_dir} (build it with `node scripts/lab.mjs`, or `npm start`)"
            )
        page_config = self.serverapp.web_app.settings.setdefault("page_config_data", {})
        # JupyterLab 4 bundles MathJax 3: no MathJax 2 from a CDN
        page_config["fullMathjaxUrl"] = ""

    def build_info(self):
        """dist/lab/build.json: the bundle's name (it carries its hash), the versions."""
        return _read_json(os.path.join(self.build_dir, "build.json"))

    def initialize_handlers(self):
        super().initialize_handlers()
        replace = {LabHandler: GradbookLabHandler, NotFoundHandler: GradbookNotFoundHandler}
        self.handlers[:] = [(h[0], replace.get(h[1], h[1]), *h[2:]) for h in self.handlers]
        self.handlers[:0] = [
            (r"/api/me", IdentityHandler),
            (r"/api/events/subscribe", EventsSubscribeHandler),
        ]


def _read_json(path):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


def _jupyter_server_extension_points():
    return [{"module": "gradbook_lab", "app": GradbookLabApp}]


main = launch_new_instance = GradbookLabApp.launch_instance

if __name__ == "__main__":
    main()
