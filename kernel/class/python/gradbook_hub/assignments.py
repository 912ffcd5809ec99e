"""A Jupyter server extension: the Assignments panel's server side.

  GET  {base_url}gradbook/assignments                  the course's assignments, with what is here
  POST {base_url}gradbook/assignments/A/ACTION         fetch | validate | submit | feedback
                                                       (instructors: release | deadline | collect | grade | return | status)

Each request runs `gradbook assignment ACTION A --json` (kernel/class/student.ts)
as this server's user, in this server's environment (its hub token, the
exchange's address) with the assignments in {root_dir}/assignments, and
answers its JSON.
"""
import asyncio
import json
import os

from jupyter_server.base.handlers import APIHandler
from jupyter_server.utils import url_path_join
from tornado import web

STUDENT_ACTIONS = {"fetch", "validate", "submit", "feedback"}
INSTRUCTOR_ACTIONS = {"release", "deadline", "collect", "grade", "return", "status"}


def _jupyter_server_extension_points():
    return [{"module": "gradbook_hub.assignments"}]


class _Base(APIHandler):
    async def run_cli(self, args):
        node = os.environ.get("GRADBOOK_NODE", "node")
        cli = os.environ.get("GRADBOOK_CLI")
        if not cli:
            raise web.HTTPError(500, "GRADBOOK_CLI is not set: this server was not started by gradbook hub")
        root = self.settings.get("server_root_dir") or os.getcwd()
        proc = await asyncio.create_subprocess_exec(
            node, cli, "assignment", *args, "--json", "--dir", os.path.join(os.path.expanduser(root), "assignments"),
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )
        out, err = await proc.communicate()
        try:
            body = json.loads(out.decode("utf8") or "null")
        except ValueError:
            body = {"error": (err or out).decode("utf8", "replace")[-2000:] or f"gradbook assignment exited with {proc.returncode}"}
        if proc.returncode != 0:
            status = body.get("status") if isinstance(body, dict) else None
            self.set_status(status if isinstance(status, int) and 400 <= status < 600 else 500 if proc.returncode > 1 else 400)
        self.finish(json.dumps(body))


class ListHandler(_Base):
    @web.authenticated
    async def get(self):
        await self.run_cli(["list"])


class ActionHandler(_Base):
    @web.authenticated
    async def post(self, assignment, action):
        if action not in STUDENT_ACTIONS | INSTRUCTOR_ACTIONS:
            raise web.HTTPError(404, f"no action {action}")
        args = [action, assignment]
        body = self.get_json_body() or {}
        if action in ("release", "deadline") and "deadline" in body:
            args += ["--deadline", "none" if body["deadline"] is None else str(body["deadline"])]
        if action == "collect" and body.get("beforeDeadline"):
            args.append("--before-deadline")
        await self.run_cli(args)


def _load_jupyter_server_extension(serverapp):
    settings = serverapp.web_app.settings
    base = settings["base_url"]
    # JupyterLab's page config: the panel is added only where these handlers are; and the hub's
    # whereabouts for JupyterLab's hub extension (File > Hub Control Panel, Log Out), as jupyter-labhub gives them
    page_config = settings.setdefault("page_config_data", {})
    page_config["gradbookAssignments"] = "true"
    if "hub_prefix" in settings:
        page_config["hubPrefix"] = settings["hub_prefix"]
        page_config["hubHost"] = settings.get("hub_host", "")
        page_config["hubUser"] = settings.get("user", "")
        page_config["hubServerName"] = os.environ.get("JUPYTERHUB_SERVER_NAME", "")
        page_config["shareUrl"] = url_path_join(settings["hub_prefix"], "user-redirect")
    name = r"[A-Za-z0-9@+][A-Za-z0-9._@+-]{0,63}"
    serverapp.web_app.add_handlers(
        ".*$",
        [
            (url_path_join(base, "gradbook/assignments"), ListHandler),
            (url_path_join(base, f"gradbook/assignments/({name})/([a-z]+)"), ActionHandler),
        ],
    )
    serverapp.log.info("gradbook: the Assignments panel's handlers are at %sgradbook/assignments", base)


# jupyter_server 1.x looks for these names on the module
load_jupyter_server_extension = _load_jupyter_server_extension
