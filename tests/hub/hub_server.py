"""A loopback server speaking the part of the Hugging Face Hub HTTP API that `huggingface_hub` uses.

The tests point `HF_ENDPOINT` (or an `endpoint=` argument) at it so that the real client code paths run end
to end: `create_repo`, `upload_folder` / `create_commit` (preupload + ndjson commit), `repo_info`,
`list_repo_tree`, `get_paths_info`, `hf_hub_download` / `snapshot_download` (HEAD + GET on `resolve`),
`HfFileSystem` reads and the README metadata check. Files are answered as "regular" uploads (base64 inside
the commit) except those matching `lfs_suffixes` (weights and Parquet shards by default, as on the Hub;
`datasets.push_to_hub` requires it), which go through the basic Git LFS transfer (batch, PUT, verify). Xet
storage is not served: clients must run with `HF_HUB_DISABLE_XET` for LFS files. Repositories live in memory
with a real commit history (40-hex commit ids, git blob ids). The server binds 127.0.0.1 on a free port and shuts itself
down after `lifetime_s` seconds even if a test forgets to stop it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

import yaml

GITATTRIBUTES = (
    b"*.safetensors filter=lfs diff=lfs merge=lfs -text\n*.parquet filter=lfs diff=lfs merge=lfs -text\n"
)
TEST_TOKEN = "hf_loopback_test_token"
REPO_TYPES = {"models": "model", "datasets": "dataset", "spaces": "space"}


def git_blob_id(content: bytes) -> str:
    """The git object id of a blob, which the Hub reports as a regular file's `oid` and `ETag`."""
    return hashlib.sha1(b"blob %d\0" % len(content) + content).hexdigest()


@dataclass
class Commit:
    oid: str
    message: str
    parent: str | None
    files: dict[str, bytes]


@dataclass
class Repo:
    repo_type: str
    repo_id: str
    private: bool
    commits: dict[str, Commit] = field(default_factory=dict)
    branches: dict[str, str] = field(default_factory=dict)

    def resolve(self, revision: str) -> Commit | None:
        revision = unquote(revision)
        if revision in self.branches:
            return self.commits[self.branches[revision]]
        return self.commits.get(revision)


class HubState:
    """Repositories and request log shared by the handler threads."""

    def __init__(
        self, token: str | None, lfs_suffixes: tuple[str, ...] = (".parquet", ".safetensors")
    ) -> None:
        self.token = token
        self.lfs_suffixes = lfs_suffixes
        self.lfs_objects: dict[str, bytes] = {}  # sha256 -> content
        self.repos: dict[tuple[str, str], Repo] = {}
        self.requests: list[tuple[str, str, str | None]] = []  # (method, path, authorization)
        self.lock = threading.Lock()
        self._counter = 0

    def new_commit(self, repo: Repo, message: str, files: dict[str, bytes], branch: str = "main") -> Commit:
        self._counter += 1
        parent = repo.branches.get(branch)
        seed = f"{repo.repo_type}/{repo.repo_id}/{parent}/{message}/{self._counter}/{sorted(files)}"
        commit = Commit(hashlib.sha1(seed.encode()).hexdigest(), message, parent, files)
        repo.commits[commit.oid] = commit
        repo.branches[branch] = commit.oid
        return commit


class HubRequestHandler(BaseHTTPRequestHandler):
    """Routes one HTTP request to the matching Hub endpoint."""

    server: HubServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        """Silent: the tests read `HubState.requests` instead of stderr."""

    # ---- helpers -------------------------------------------------------------------------------------
    @property
    def state(self) -> HubState:
        return self.server.state

    def _authorized(self) -> bool:
        expected = self.state.token
        return expected is None or self.headers.get("Authorization") == f"Bearer {expected}"

    def _send(
        self,
        status: int,
        body: bytes = b"",
        content_type: str = "application/json",
        headers: dict[str, str] | None = None,
        content_length: int | None = None,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body) if content_length is None else content_length))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: int, payload: object, headers: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps(payload).encode(), headers=headers)

    def _error(self, status: int, code: str | None, message: str) -> None:
        headers = {"X-Error-Message": message}
        if code:
            headers["X-Error-Code"] = code
        self._json(status, {"error": message}, headers=headers)

    def _body(self) -> bytes:
        """The request body, read once when the request arrives (see `_dispatch`)."""
        return self._request_body

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()  # the empty line after the last chunk
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _repo(self, repo_type: str, repo_id: str) -> Repo | None:
        """The repository if it exists and the caller may see it (private repos need the token, like the Hub)."""
        repo = self.state.repos.get((repo_type, repo_id))
        if repo is None or (repo.private and not self._authorized()):
            self._error(404, "RepoNotFound", "Repository not found")
            return None
        return repo

    def _writable_repo(self, repo_type: str, repo_id: str) -> Repo | None:
        """The repository, if it exists and the caller's token may write to it (else the Hub's 404/401)."""
        repo = self._repo(repo_type, repo_id)
        if repo is not None and not self._authorized():
            self._error(401, None, "Invalid credentials in Authorization header")
            return None
        return repo

    def _commit(self, repo: Repo, revision: str) -> Commit | None:
        commit = repo.resolve(revision)
        if commit is None:
            self._error(404, "RevisionNotFound", f"Invalid rev id: {unquote(revision)}")
        return commit

    def _endpoint(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def _repo_url(self, repo: Repo) -> str:
        prefix = "" if repo.repo_type == "model" else f"{repo.repo_type}s/"
        return f"{self._endpoint()}/{prefix}{repo.repo_id}"

    # ---- dispatch ------------------------------------------------------------------------------------
    def _dispatch(self) -> None:
        url = urlsplit(self.path)
        path, query = unquote(url.path), parse_qs(url.query)
        # Read the whole body up front: an early error reply must not leave bytes on a kept-alive connection.
        self._request_body = self._read_body()
        with self.state.lock:
            self.state.requests.append((self.command, url.path, self.headers.get("Authorization")))
        routes = [
            ("POST", r"/api/repos/create", self._create_repo),
            ("POST", r"/api/validate-yaml", self._validate_yaml),
            ("POST", r"/api/(?P<t>\w+)/(?P<id>[^/]+/[^/]+)/preupload/(?P<rev>.+)", self._preupload),
            ("POST", r"/api/(?P<t>\w+)/(?P<id>[^/]+/[^/]+)/commit/(?P<rev>.+)", self._commit_endpoint),
            ("POST", r"/api/(?P<t>\w+)/(?P<id>[^/]+/[^/]+)/paths-info/(?P<rev>.+)", self._paths_info),
            ("GET", r"/api/(?P<t>\w+)/(?P<id>[^/]+/[^/]+)/tree/(?P<rev>[^/]+)(?:/(?P<sub>.*))?", self._tree),
            ("GET", r"/api/(?P<t>\w+)/(?P<id>[^/]+/[^/]+)/revision/(?P<rev>.+)", self._info),
            ("GET", r"/api/(?P<t>\w+)/(?P<id>[^/]+/[^/]+)", self._info),
            (
                "GET|HEAD",
                r"/(?:(?P<t>datasets|spaces)/)?(?P<id>[^/]+/[^/]+)/resolve/(?P<rev>[^/]+)/(?P<file>.+)",
                self._resolve,
            ),
            (
                "POST",
                r"/(?:(?P<t>datasets|spaces)/)?(?P<id>[^/]+/[^/]+)\.git/info/lfs/objects/batch",
                self._lfs_batch,
            ),
            ("PUT", r"/lfs-upload/(?P<oid>[0-9a-f]{64})", self._lfs_upload),
            ("POST", r"/lfs-verify/(?P<oid>[0-9a-f]{64})", self._lfs_verify),
        ]
        for methods, pattern, handler in routes:
            match = re.fullmatch(pattern, path)
            if match and self.command in methods.split("|"):
                handler(query=query, **match.groupdict())
                return
        self._error(404, None, f"no route for {self.command} {path}")

    do_GET = do_HEAD = do_POST = do_PUT = _dispatch

    # ---- endpoints -----------------------------------------------------------------------------------
    def _create_repo(self, query: dict) -> None:
        if not self._authorized():
            self._error(401, None, "Invalid credentials in Authorization header")
            return
        payload = json.loads(self._body())
        repo_type = payload.get("type") or "model"
        repo_id = f"{payload.get('organization') or 'user'}/{payload['name']}"
        with self.state.lock:
            existing = self.state.repos.get((repo_type, repo_id))
            if existing is not None:
                self._json(409, {"error": "You already created this repo", "url": self._repo_url(existing)})
                return
            repo = Repo(repo_type, repo_id, private=payload.get("visibility") == "private")
            self.state.repos[(repo_type, repo_id)] = repo
            self.state.new_commit(repo, "initial commit", {".gitattributes": GITATTRIBUTES})
        self._json(200, {"url": self._repo_url(repo), "name": repo_id})

    def _validate_yaml(self, query: dict) -> None:
        """Parse the README front matter like the Hub does before a commit: invalid YAML is a 400."""
        content = json.loads(self._body())["content"]
        match = re.match(r"^---\s*\n(.*?)\n---\s*\n", content, flags=re.DOTALL)
        errors = []
        if match:
            try:
                metadata = yaml.safe_load(match.group(1))
                if metadata is not None and not isinstance(metadata, dict):
                    errors.append({"message": "metadata must be a YAML mapping"})
            except yaml.YAMLError as error:
                errors.append({"message": f"invalid YAML: {error}"})
        warnings = [] if match else [{"message": "empty or missing yaml metadata in repo card"}]
        self._json(400 if errors else 200, {"errors": errors, "warnings": warnings})

    def _preupload(self, query: dict, t: str, id: str, rev: str) -> None:
        repo = self._writable_repo(REPO_TYPES.get(t, t), id)
        if repo is None:
            return
        commit = repo.resolve(rev)
        files = commit.files if commit else {}
        answer = []
        for item in json.loads(self._body())["files"]:
            lfs = item["path"].endswith(self.state.lfs_suffixes)
            remote = files.get(item["path"])
            oid = (
                None if remote is None else hashlib.sha256(remote).hexdigest() if lfs else git_blob_id(remote)
            )
            answer.append(
                {
                    "path": item["path"],
                    "uploadMode": "lfs" if lfs else "regular",
                    "shouldIgnore": False,
                    "oid": oid,
                }
            )
        self._json(200, {"files": answer, "commitOid": commit.oid if commit else None})

    def _commit_endpoint(self, query: dict, t: str, id: str, rev: str) -> None:
        repo = self._writable_repo(REPO_TYPES.get(t, t), id)
        if repo is None:
            return
        branch = unquote(rev)
        lines = [json.loads(line) for line in self._body().splitlines() if line.strip()]
        with self.state.lock:
            parent_oid = repo.branches.get(branch)
            files = dict(repo.commits[parent_oid].files) if parent_oid else {}
            header: dict = {}
            for line in lines:
                key, value = line["key"], line["value"]
                if key == "header":
                    header = value
                elif key == "file":
                    if value.get("encoding") != "base64":
                        self._error(400, None, f"unsupported encoding {value.get('encoding')!r}")
                        return
                    files[value["path"]] = base64.b64decode(value["content"])
                elif key == "lfsFile":
                    content = self.state.lfs_objects.get(value["oid"])
                    if content is None:
                        self._error(
                            422, None, f"LFS object {value['oid']} of {value['path']} was never uploaded"
                        )
                        return
                    files[value["path"]] = content
                elif key == "deletedFile":
                    files.pop(value["path"], None)
                elif key == "deletedFolder":
                    prefix = value["path"].rstrip("/") + "/"
                    files = {p: c for p, c in files.items() if not p.startswith(prefix)}
                else:
                    self._error(422, None, f"operation {key!r} is not supported by this test server")
                    return
            expected_parent = header.get("parentCommit")
            if expected_parent and parent_oid and not parent_oid.startswith(expected_parent):
                self._error(412, None, "parent commit is not the head of the branch")
                return
            message = header.get("summary", "")
            if header.get("description"):
                message += "\n\n" + header["description"]
            commit = self.state.new_commit(repo, message, files, branch=branch)
        self._json(
            200,
            {
                "success": True,
                "commitOid": commit.oid,
                "commitUrl": f"{self._repo_url(repo)}/commit/{commit.oid}",
                "pullRequestUrl": None,
            },
        )

    def _file_entry(self, path: str, content: bytes) -> dict:
        entry = {"type": "file", "path": path, "size": len(content), "oid": git_blob_id(content)}
        if path.endswith(self.state.lfs_suffixes):
            entry["lfs"] = {
                "oid": hashlib.sha256(content).hexdigest(),
                "size": len(content),
                "pointerSize": 132,
            }
        return entry

    def _entries(self, commit: Commit, prefix: str, recursive: bool) -> list[dict]:
        """Tree entries below `prefix` in the Hub's JSON shape (files and implicit folders)."""
        prefix = prefix.strip("/")
        folders: set[str] = set()
        entries = []
        for path, content in sorted(commit.files.items()):
            if prefix and not path.startswith(prefix + "/"):
                continue
            rest = path[len(prefix) + 1 :] if prefix else path
            parts = rest.split("/")
            for depth in range(1, len(parts)):
                if not recursive and depth > 1:
                    break
                folders.add("/".join(([prefix] if prefix else []) + parts[:depth]))
            if recursive or len(parts) == 1:
                entries.append(
                    {"type": "file", "path": path, "size": len(content), "oid": git_blob_id(content)}
                )
        entries += [
            {"type": "directory", "path": p, "size": 0, "oid": git_blob_id(p.encode())} for p in folders
        ]
        return sorted(entries, key=lambda e: e["path"])

    def _tree(self, query: dict, t: str, id: str, rev: str, sub: str | None) -> None:
        repo = self._repo(REPO_TYPES.get(t, t), id)
        commit = repo and self._commit(repo, rev)
        if commit is None:
            return
        recursive = query.get("recursive", ["False"])[0].lower() == "true"
        if sub and sub.strip("/") in commit.files:
            self._error(404, "EntryNotFound", f"{sub} is a file, not a folder")
            return
        entries = self._entries(commit, sub or "", recursive)
        if sub and not entries:
            self._error(404, "EntryNotFound", f"{sub} does not exist on {rev}")
            return
        self._json(200, entries)

    def _paths_info(self, query: dict, t: str, id: str, rev: str) -> None:
        repo = self._repo(REPO_TYPES.get(t, t), id)
        commit = repo and self._commit(repo, rev)
        if commit is None:
            return
        form = parse_qs(self._body().decode())
        answer = []
        for wanted in form.get("paths", []):
            wanted = wanted.strip("/")
            if wanted in commit.files:
                content = commit.files[wanted]
                answer.append(
                    {"type": "file", "path": wanted, "size": len(content), "oid": git_blob_id(content)}
                )
            elif any(p.startswith(wanted + "/") for p in commit.files):
                answer.append(
                    {"type": "directory", "path": wanted, "size": 0, "oid": git_blob_id(wanted.encode())}
                )
        self._json(200, answer)

    def _info(self, query: dict, t: str, id: str, rev: str = "main") -> None:
        repo = self._repo(REPO_TYPES.get(t, t), id)
        commit = repo and self._commit(repo, rev)
        if commit is None:
            return
        self._json(
            200,
            {
                "id": repo.repo_id,
                "author": repo.repo_id.split("/")[0],
                "sha": commit.oid,
                "private": repo.private,
                "lastModified": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
                "siblings": [{"rfilename": p} for p in sorted(commit.files)],
            },
        )

    def _resolve(self, query: dict, t: str | None, id: str, rev: str, file: str) -> None:
        repo = self._repo(REPO_TYPES.get(t or "models", "model"), id)
        commit = repo and self._commit(repo, rev)
        if commit is None:
            return
        if file not in commit.files:
            self._error(404, "EntryNotFound", f"{file} does not exist on {rev}")
            return
        content = commit.files[file]
        headers = {"ETag": f'"{git_blob_id(content)}"', "X-Repo-Commit": commit.oid, "Accept-Ranges": "bytes"}
        if file.endswith(
            self.state.lfs_suffixes
        ):  # LFS files are identified by their sha256, like on the Hub
            headers["X-Linked-Etag"] = f'"{hashlib.sha256(content).hexdigest()}"'
            headers["X-Linked-Size"] = str(len(content))
        byte_range = re.fullmatch(r"bytes=(\d+)-(\d*)", self.headers.get("Range") or "")
        if byte_range and self.command == "GET":
            start = int(byte_range.group(1))
            end = int(byte_range.group(2)) if byte_range.group(2) else len(content) - 1
            headers["Content-Range"] = f"bytes {start}-{end}/{len(content)}"
            self._send(206, content[start : end + 1], "application/octet-stream", headers)
            return
        self._send(200, content, "application/octet-stream", headers, content_length=len(content))

    def _lfs_batch(self, query: dict, t: str | None, id: str) -> None:
        """Git LFS batch API, basic transfer: one PUT per missing object, then a verify call."""
        repo = self._writable_repo(REPO_TYPES.get(t or "models", "model"), id)
        if repo is None:
            return
        objects = []
        for item in json.loads(self._body())["objects"]:
            answer = {"oid": item["oid"], "size": item["size"]}
            if item["oid"] not in self.state.lfs_objects:
                answer["actions"] = {
                    "upload": {"href": f"{self._endpoint()}/lfs-upload/{item['oid']}"},
                    "verify": {"href": f"{self._endpoint()}/lfs-verify/{item['oid']}"},
                }
            objects.append(answer)
        self._json(200, {"transfer": "basic", "objects": objects})

    def _lfs_upload(self, query: dict, oid: str) -> None:
        content = self._body()
        if hashlib.sha256(content).hexdigest() != oid:
            self._error(400, None, f"uploaded content does not hash to {oid}")
            return
        with self.state.lock:
            self.state.lfs_objects[oid] = content
        self._send(200)

    def _lfs_verify(self, query: dict, oid: str) -> None:
        expected = json.loads(self._body())
        content = self.state.lfs_objects.get(oid)
        if content is None or len(content) != expected.get("size"):
            self._error(404, None, f"LFS object {oid} is missing or has the wrong size")
            return
        self._json(200, {"oid": oid, "size": len(content)})


class HubServer(ThreadingHTTPServer):
    """The loopback Hub: `with HubServer(token=...) as hub: ... hub.url ...`."""

    daemon_threads = True

    def __init__(
        self,
        token: str | None = None,
        lifetime_s: float = 600.0,
        lfs_suffixes: tuple[str, ...] = (".parquet", ".safetensors"),
    ) -> None:
        super().__init__(("127.0.0.1", 0), HubRequestHandler)
        self.state = HubState(token, lfs_suffixes)
        self.lifetime_s = lifetime_s
        self._thread: threading.Thread | None = None
        self._deadline: threading.Timer | None = None

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> HubServer:
        self._thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
        self._thread.start()
        # Bounded lifetime: the server stops itself even if the test that started it never does.
        self._deadline = threading.Timer(self.lifetime_s, self.shutdown)
        self._deadline.daemon = True
        self._deadline.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket; safe to call more than once."""
        if self._deadline is not None:
            self._deadline.cancel()
        if self._thread is not None and self._thread.is_alive():
            self.shutdown()
            self._thread.join(timeout=10)
        self._thread = None
        self.server_close()

    def __enter__(self) -> HubServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def files(self, repo_id: str, repo_type: str = "model", revision: str = "main") -> dict[str, bytes]:
        """The files of a repository at a revision, read straight from the server's store."""
        commit = self.state.repos[(repo_type, repo_id)].resolve(revision)
        if commit is None:
            raise ValueError(f"revision {revision!r} not found in {repo_type} repo {repo_id!r}")
        return dict(commit.files)

    def commit_messages(self, repo_id: str, repo_type: str = "model") -> list[str]:
        """Commit messages on `main`, newest first."""
        repo = self.state.repos[(repo_type, repo_id)]
        messages, oid = [], repo.branches.get("main")
        while oid is not None:
            messages.append(repo.commits[oid].message)
            oid = repo.commits[oid].parent
        return messages
