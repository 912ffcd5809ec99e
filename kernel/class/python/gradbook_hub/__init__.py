"""JupyterHub for a gradbook course (`gradbook hub COURSE`).

- `configure(c, settings)`: the hub's configuration from the settings file
  that `gradbook hub` writes (COURSE/hub/settings.json).
- `GradbookSpawner`: JupyterHub's local process spawner, for users with or
  without a system account: a user with one (PAM) runs as it, in their home;
  a user without one runs as a uid of the course's own (kept in
  COURSE/hub/uids.json) with a 0700 home in COURSE/home/. Each server and
  everything it starts is held to the course's memory and CPU limits by a
  control group (cgroups.py); when the limits cannot be enforced the server
  does not start, and says why. Instructors also get the course's
  instructors group (which owns COURSE/source) and a link ~/source to it.
"""
import grp
import hashlib
import json
import os
import pwd
import subprocess
import sys

from jupyterhub.spawner import LocalProcessSpawner
from traitlets import Integer, List, Unicode

from .cgroups import Cgroup, CgroupError


class GradbookSpawner(LocalProcessSpawner):
    course_root = Unicode(config=True, help="The course folder.")
    course_name = Unicode("course", config=True)
    uid_base = Integer(63000, config=True, help="Users without a system account get uids above this; instructors share this gid.")
    instructors = List(Unicode(), config=True)
    notebooks = Unicode("", config=True, help="A folder copied into a new home's notebooks/ (the course notebooks).")
    enforce_limits = Unicode("cgroup", config=True, help="'cgroup': refuse to start a server whose limits cannot be enforced; 'none'.")

    _cgroup = None

    # --- who the user runs as -------------------------------------------------
    def _course_uid(self, name):
        """The course's own uid for NAME, allocated once and kept in hub/uids.json."""
        path = os.path.join(self.course_root, "hub", "uids.json")
        try:
            with open(path) as f:
                uids = json.load(f)
        except FileNotFoundError:
            uids = {}
        if name not in uids:
            uids[name] = max([self.uid_base] + list(uids.values())) + 1
            tmp = path + ".tmp"
            with open(tmp, "w") as f:
                json.dump(uids, f, indent=1)
            os.chmod(tmp, 0o600)
            os.replace(tmp, path)
        return uids[name]

    def account(self):
        """(uid, gid, home, supplementary gids, system account?) of this spawner's user."""
        name = self.user.name
        try:
            pw = pwd.getpwnam(name)
        except KeyError:
            pw = None
        if pw is not None:
            uid, gid, home = pw.pw_uid, pw.pw_gid, pw.pw_dir
            groups = [g.gr_gid for g in grp.getgrall() if name in g.gr_mem]
        else:
            uid = gid = self._course_uid(name)
            home = os.path.join(self.course_root, "home", name)
            groups = []
            try:
                other = pwd.getpwuid(uid).pw_name
            except KeyError:
                other = None
            if other is not None:
                raise RuntimeError(f"{name}'s course uid {uid} is the system account {other}'s: give the course another uidBase in course.json")
        if uid == 0:
            raise RuntimeError(f"refusing to start {name}'s server as root: give the course's users their own accounts")
        if name in self.instructors:
            groups.append(self.uid_base)
        return uid, gid, home, groups, pw is not None

    def _as_user(self, argv):
        """Runs a command as the user (for changes inside their home: never as root, so a link there leads nowhere it could not)."""
        uid, gid, home, groups, _ = self.account()

        def drop():
            os.setgid(gid)
            os.setgroups(groups)
            os.setuid(uid)
            os.chdir(home)

        subprocess.run(argv, preexec_fn=drop, check=True, stdin=subprocess.DEVNULL, capture_output=True, timeout=120)

    def _prepare_home(self):
        uid, gid, home, groups, system = self.account()
        if not system:
            st = None
            try:
                st = os.lstat(home)
            except FileNotFoundError:
                os.mkdir(home, 0o700)
                os.chown(home, uid, gid)
            if st is not None and (not os.path.isdir(home) or os.path.islink(home) or st.st_uid != uid):
                raise RuntimeError(f"{home} is not a folder of {self.user.name}'s (uid {uid})")
            os.chmod(home, 0o700)
        elif not os.path.isdir(home):
            raise RuntimeError(f"{self.user.name}'s home {home} does not exist")
        if self.notebooks and os.path.isdir(self.notebooks) and not os.path.lexists(os.path.join(home, "notebooks")):
            self._as_user(["/bin/cp", "-R", "--no-preserve=mode,ownership", self.notebooks.rstrip("/") + "/.", os.path.join(home, "notebooks")])
        if self.user.name in self.instructors and not os.path.lexists(os.path.join(home, "source")):
            self._as_user(["/bin/ln", "-s", os.path.join(self.course_root, "source"), os.path.join(home, "source")])

    # --- JupyterHub's hooks ----------------------------------------------------
    def make_preexec_fn(self, name):
        uid, gid, home, groups, _ = self.account()
        cgroup = self._cgroup

        def preexec():
            if cgroup is not None:
                cgroup.add_self()
            os.setgid(gid)
            os.setgroups(groups)
            os.setuid(uid)
            os.chdir(home)

        return preexec

    def user_env(self, env):
        uid, gid, home, groups, system = self.account()
        env["USER"] = env["LOGNAME"] = self.user.name
        env["HOME"] = home
        env["SHELL"] = pwd.getpwnam(self.user.name).pw_shell if system else "/bin/bash"
        return env

    def _cgroup_name(self):
        # unique to this course folder: two courses (or two test hubs) may have the same name and users
        key = hashlib.sha256(os.path.realpath(self.course_root).encode()).hexdigest()[:8]
        return f"{self.course_name}-{key}-{self.user.name}"

    async def start(self):
        self._prepare_home()
        self._cgroup = None
        if self.enforce_limits == "cgroup" and (self.mem_limit or self.cpu_limit):
            try:
                self._cgroup = Cgroup.create(self._cgroup_name(), self.mem_limit, self.cpu_limit)
            except CgroupError as e:
                raise RuntimeError(
                    f"{self.user.name}'s server was not started: its limits (memory {self.mem_limit} bytes, {self.cpu_limit} CPUs) cannot be enforced: {e}. "
                    "Run the hub as root on a machine with cgroups, or set enforceLimits to \"none\" in course.json."
                ) from e
        elif self.mem_limit or self.cpu_limit:
            self.log.warning("%s's server runs without its limits (enforceLimits is 'none')", self.user.name)
        return await super().start()

    async def stop(self, now=False):
        await super().stop(now=now)
        cg = self._cgroup
        if cg is None and self.enforce_limits == "cgroup" and (self.mem_limit or self.cpu_limit):
            try:  # after a hub restart: the group is found by its name
                cg = Cgroup.create(self._cgroup_name(), self.mem_limit, self.cpu_limit)
            except CgroupError:
                cg = None
        if cg is not None:
            left = cg.kill_all()
            if left:
                self.log.warning("%s: processes %s did not end", self.user.name, left)
            cg.remove()
        self._cgroup = None

    def cgroup_status(self):
        """The limits as enforced and the memory in use (for tests and the benchmark)."""
        if self._cgroup is None:
            return None
        return {**self._cgroup.limits(), "memory_used_bytes": self._cgroup.memory_bytes(), "pids": self._cgroup.pids(), "dirs": self._cgroup.dirs}


def configure(c, settings_path):
    """Sets the hub's configuration `c` from COURSE/hub/settings.json."""
    with open(settings_path) as f:
        s = json.load(f)
    hub = os.path.dirname(settings_path)
    c.JupyterHub.bind_url = s["bind_url"]
    c.JupyterHub.hub_bind_url = s["hub_bind_url"]
    c.ConfigurableHTTPProxy.api_url = s["proxy_api_url"]
    c.ConfigurableHTTPProxy.command = ["configurable-http-proxy"]
    c.ConfigurableHTTPProxy.pid_file = os.path.join(hub, "proxy.pid")
    # Debian's configurable-http-proxy needs Debian's Node module folders, which another Node (e.g. NodeSource's) does not search.
    os.environ["NODE_PATH"] = os.pathsep.join(p for p in [os.environ.get("NODE_PATH", ""), "/usr/share/nodejs", "/usr/lib/nodejs"] if p)
    c.JupyterHub.db_url = "sqlite:///" + os.path.join(hub, "jupyterhub.sqlite")
    c.JupyterHub.cookie_secret_file = os.path.join(hub, "jupyterhub_cookie_secret")
    c.JupyterHub.pid_file = os.path.join(hub, "jupyterhub.pid")
    c.JupyterHub.cleanup_servers = True

    if s["authenticator"] == "dummy":
        c.JupyterHub.authenticator_class = "dummy"
        c.DummyAuthenticator.password = s["password"]
    elif s["authenticator"] == "pam":
        c.JupyterHub.authenticator_class = "pam"
        c.PAMAuthenticator.open_sessions = False
    else:  # another JupyterHub authenticator, its settings in the course's hubConfig (loaded after this)
        c.JupyterHub.authenticator_class = s["authenticator"]
    c.Authenticator.allowed_users = set(s["students"]) | set(s["instructors"])
    c.Authenticator.admin_users = set(s["instructors"])

    c.JupyterHub.spawner_class = GradbookSpawner
    c.GradbookSpawner.course_root = s["course"]
    c.GradbookSpawner.course_name = s["name"]
    c.GradbookSpawner.uid_base = s["uid_base"]
    c.GradbookSpawner.instructors = s["instructors"]
    c.GradbookSpawner.notebooks = s.get("notebooks") or ""
    c.GradbookSpawner.enforce_limits = s["enforce_limits"]
    c.Spawner.mem_limit = s["memory_bytes"]
    c.Spawner.cpu_limit = float(s["cpus"])
    c.Spawner.cmd = [s.get("singleuser", "jupyterhub-singleuser")]
    c.Spawner.args = s.get("singleuser_args", [])
    c.Spawner.default_url = s.get("default_url", "")
    c.Spawner.environment = dict(s["server_env"])
    c.Spawner.start_timeout = s.get("start_timeout", 120)
    c.Spawner.http_timeout = s.get("start_timeout", 120)

    svc = s["service"]
    c.JupyterHub.services = [
        {
            "name": svc["name"],
            "url": svc["url"],
            "command": svc["command"],
            "environment": svc.get("environment", {}),
            "display": False,
        }
    ]
