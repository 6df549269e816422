"""The kernel pool: one warm python3 kernel per worker thread, reset between notebooks.

A pooled kernel is started in the project root, imports the heavy modules once
(:data:`~plancadre_eval.runner.constants.DEFAULT_WARM_MODULES`), then runs
:mod:`plancadre_eval.runner.kernel_setup`; before each following notebook it is reset
(:data:`KERNEL_RESET`). A kernel that died or timed out is replaced.
"""

from __future__ import annotations

import atexit
import inspect
import os
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

from .constants import KERNEL_NAME

if TYPE_CHECKING:
    from .page import PageTask

_SETUP_FILE = Path(__file__).resolve().with_name("kernel_setup.py")


def setup_code() -> str:
    """Code run in a new pooled kernel after its warm-up imports: the source of
    :mod:`plancadre_eval.runner.kernel_setup`, then ``setup()``, then the name is deleted (the
    first notebook finds an empty namespace)."""
    return _SETUP_FILE.read_text(encoding="utf-8") + "\nsetup()\ndel setup\n"


KERNEL_IMPORTS = (
    "import importlib\n"
    "for _name in __MODULES__:\n"
    "    try:\n"
    "        importlib.import_module(_name)\n"
    "    except Exception:\n"
    "        pass\n"
    "del _name, importlib\n"
)

#: Added to the kernel's command line: IPython's history (a SQLite database written after every
#: cell) is of no use to a notebook run by papermill.
KERNEL_ARGUMENTS = ("--HistoryManager.enabled=False",)

KERNEL_RESET = (
    '__import__("sys").modules["_plancadre_pool"].reset()\n'
    'get_ipython().execution_count = 1\n'
)

_kernel_manager_class = None

#: Held by a thread importing the Jupyter stack (:func:`import_jupyter_client`,
#: :func:`plancadre_eval.runner.page.import_stack`): one thread imports it at a time.
IMPORT_LOCK = threading.RLock()
_client_imported = threading.Event()
_CLASS_LOCK = threading.Lock()


def import_jupyter_client() -> None:
    """Import jupyter_client's kernel manager and clients, once per process and one thread at a
    time (the other threads wait; afterwards this returns at once).

    A run starts kernels in several threads while another imports papermill, which imports
    jupyter_client too. jupyter_client's modules import one another: two threads importing them
    at once can each hold the lock of a module the other needs, and Python then hands one of
    them a half-initialised module (``ImportError: cannot import name 'AsyncKernelManager' from
    partially initialized module 'jupyter_client.manager'``, or ``_DeadlockError``): one fresh
    process in four with four threads starting together, and so a page failed for nothing."""
    if _client_imported.is_set():
        return
    with IMPORT_LOCK:
        if not _client_imported.is_set():
            import jupyter_client.asynchronous  # noqa: F401
            import jupyter_client.blocking  # noqa: F401
            import jupyter_client.manager  # noqa: F401
            import jupyter_core.utils  # noqa: F401

            _client_imported.set()


def _client_class():
    """AsyncKernelClient whose ``wait_for_ready`` ends as soon as IOPub is proven connected.

    jupyter_client's own waits for the ``kernel_info`` reply, then keeps reading IOPub until it
    has been silent for 0.2 s: 0.2 s lost for every notebook papermill runs in a pooled kernel
    (a new client each time). Here the proof is the kernel's ``status`` message for our own
    ``kernel_info`` request: once it arrives on IOPub, the subscription works and nothing of the
    next execution can be lost; without it within 0.2 s, the request is sent again (as upstream).
    """
    import_jupyter_client()
    from jupyter_client.asynchronous import AsyncKernelClient

    class _ReadyClient(AsyncKernelClient):
        async def wait_for_ready(self, timeout: float | None = None) -> None:
            import asyncio
            from queue import Empty

            deadline = time.monotonic() + (timeout if timeout is not None else 3600.0)
            sent: set[str] = set()  # every request sent: a kernel still starting answers them all
            resend = True
            while True:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"Le noyau n'a pas répondu en {timeout} s.")
                if resend:
                    sent.add(self.kernel_info())
                try:
                    reply = await self.shell_channel.get_msg(timeout=1)
                except Empty:
                    if not await self._async_is_alive():
                        raise RuntimeError("Le noyau s'est arrêté avant de répondre.") from None
                    resend = True
                    continue
                msg_id = reply.get("parent_header", {}).get("msg_id")
                if reply.get("msg_type") != "kernel_info_reply" or msg_id not in sent:
                    resend = False
                    continue
                resend = True
                seen = False
                limit = time.monotonic() + 0.2
                while not seen:
                    remaining = limit - time.monotonic()
                    if remaining <= 0:
                        break
                    try:
                        msg = await self.iopub_channel.get_msg(timeout=remaining)
                    except (Empty, asyncio.TimeoutError):
                        break
                    seen = msg.get("parent_header", {}).get("msg_id") == msg_id and \
                        msg.get("msg_type") == "status" and \
                        msg.get("content", {}).get("execution_state") == "idle"
                if seen:
                    self._handle_kernel_info_reply(reply)
                    return

    return _ReadyClient


def _manager_class():
    """AsyncKernelManager that remembers the clients it creates (papermill leaves them open when
    it does not own the kernel), so they can be closed after each notebook; its clients are
    ready without a fixed wait (:func:`_client_class`)."""
    import_jupyter_client()
    with _CLASS_LOCK:  # not IMPORT_LOCK: held while papermill is imported, kernels start meanwhile
        return _make_manager_class()


def _make_manager_class():
    global _kernel_manager_class
    if _kernel_manager_class is None:
        from jupyter_client.manager import AsyncKernelManager

        ready_client = _client_class()

        class _TrackingKernelManager(AsyncKernelManager):
            def __init__(self, **kwargs):
                super().__init__(**kwargs)
                self.client_factory = ready_client

            def client(self, **kwargs):
                kc = super().client(**kwargs)
                self.__dict__.setdefault("_plancadre_clients", []).append(kc)
                return kc

            def close_clients(self):
                for kc in self.__dict__.pop("_plancadre_clients", []):
                    try:
                        kc.stop_channels()
                    except Exception:
                        pass

        _kernel_manager_class = _TrackingKernelManager
    return _kernel_manager_class


_adopted_class = None


def _adopted_manager_class():
    """Manager of a kept kernel started by an earlier command (:mod:`.resident`): no process
    handle here, only its pid; alive while the pid is, stopped and interrupted by signals."""
    global _adopted_class
    if _adopted_class is None:
        import signal

        from .resident import _pid_alive, stop_process

        class _AdoptedKernelManager(_manager_class()):
            adopted_pid: int = 0

            @property
            def has_kernel(self) -> bool:
                return True

            async def is_alive(self) -> bool:
                return _pid_alive(self.adopted_pid)

            async def interrupt_kernel(self) -> None:
                os.kill(self.adopted_pid, signal.SIGINT)

            async def shutdown_kernel(self, now: bool = False, restart: bool = False) -> None:
                stop_process(self.adopted_pid)

            def cleanup_resources(self, restart: bool = False) -> None:
                pass

        _adopted_class = _AdoptedKernelManager
    return _adopted_class


def kernel_environment() -> dict[str, str]:
    """Environment of the kernels: the runner's, without ``MPLBACKEND`` (kernels always use the
    inline backend, as in Jupyter, whatever the caller set for its own process)."""
    env = dict(os.environ)
    env.pop("MPLBACKEND", None)
    env.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    return env


class _Kernel:
    """A python3 kernel started in ``root``; ``pooled`` ones are warmed up and reset between
    notebooks."""

    def __init__(self, root: str, token: str, warm_modules: tuple[str, ...], start_timeout: float,
                 pooled: bool, detached: bool = False, adopt: dict | None = None,
                 prestart: "_Prestart | None" = None):
        """Start a kernel (``detached``: it outlives this process, to be kept warm by
        :mod:`.resident`), or take over the kept kernel ``adopt`` (a registry entry).
        ``prestart``: started by :func:`prestart_kernels`, stopped at once if discarded meanwhile."""
        from jupyter_core.utils import run_sync

        self.root, self.token, self.pooled = root, token, pooled
        self.stopped = False
        self.warm_modules = tuple(warm_modules)
        self.start_timeout = start_timeout
        self.uses = 0
        self.detached = detached or adopt is not None
        self.shell = None  # persistent client (shell channel only) for the resets
        self.pending_reset: str | None = None
        if adopt is not None:
            self.km = _adopted_manager_class()(kernel_name=KERNEL_NAME)
            self.km.load_connection_info(adopt["connexion"])
            self.km.adopted_pid = int(adopt["pid"])
            self.uses = 1  # reset before its first notebook here, as between two pages
        else:
            self.km = _manager_class()(kernel_name=KERNEL_NAME)
            import subprocess

            # The kernel's own stdout/stderr (start-up warnings) would mix with the progress bar;
            # what the notebook prints reaches the notebook through the messaging channels.
            # ``independent``: no parent-process watch (JPY_PARENT_PID) in a kernel to be kept.
            # No IPython history database: every cell would be written (and committed) to SQLite.
            run_sync(self.km.start_kernel)(cwd=root, env=kernel_environment(), independent=detached,
                                           extra_arguments=list(KERNEL_ARGUMENTS),
                                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        with _kernels_lock:
            _live_kernels.add(self)
            discarded = prestart is not None and prestart.launched(self)
        if discarded:
            self.shutdown()
            raise RuntimeError("noyau démarré d'avance, plus attendu")
        if pooled:
            if adopt is None:
                self.run_code(KERNEL_IMPORTS.replace("__MODULES__", repr(self.warm_modules)),
                              timeout=start_timeout)
                self.run_code(setup_code(), timeout=start_timeout)
            # a blocking client (plain zmq sockets): independent of the event loops papermill runs
            from jupyter_client.blocking import BlockingKernelClient

            import zmq

            # its own session (same key): a shell socket's routing identity is the session id,
            # and papermill's clients, which share the manager's session id, come and go
            self.shell = BlockingKernelClient(context=zmq.Context())
            self.shell.load_connection_info(self.km.get_connection_info(session=False))
            self.shell.start_channels(shell=True, iopub=False, stdin=False, hb=False, control=False)

    @property
    def process(self):
        """The kernel's process (``Popen``) when this process started it, else None."""
        return getattr(getattr(self.km, "provisioner", None), "process", None)

    @property
    def pid(self) -> int | None:
        adopted = getattr(self.km, "adopted_pid", None)
        if adopted is not None:
            return adopted
        return getattr(self.process, "pid", None)

    def run_shell(self, code: str, timeout: float) -> None:
        """Execute ``code`` through the persistent shell client and wait for its reply."""
        self.pending_reset = self.shell.execute(code, store_history=False, allow_stdin=False)
        self._wait_reset(timeout)

    def run_code(self, code: str, timeout: float) -> None:
        """Execute ``code`` (warm-up, set-up) and wait for its reply; raises if the kernel stops
        meanwhile (checked every half second: a kernel stopped while it warms up, e.g. by
        :func:`discard_prestarted`, never leaves this waiting for ``timeout``)."""
        from queue import Empty

        from jupyter_core.utils import run_sync

        async def _run():
            kc = self.km.client()
            kc.start_channels()
            try:
                await kc.wait_for_ready(timeout=timeout)
                msg_id = kc.execute(code, store_history=False, allow_stdin=False)
                deadline = time.monotonic() + timeout
                while True:
                    try:
                        reply = await kc.get_shell_msg(timeout=0.5)
                    except Empty:
                        if not await self.km.is_alive():
                            raise RuntimeError("Le noyau s'est arrêté pendant sa préparation.") \
                                from None
                        if time.monotonic() > deadline:
                            raise TimeoutError(f"Le noyau n'a pas été prêt en {timeout} s.") from None
                        continue
                    if reply.get("parent_header", {}).get("msg_id") == msg_id:
                        break
            finally:
                kc.stop_channels()
            content = reply.get("content", {})
            if content.get("status") != "ok":
                raise RuntimeError(f"préparation du noyau impossible : {content.get('ename')} "
                                   f"{content.get('evalue')}")

        run_sync(_run)()

    def start_reset(self) -> None:
        """Ask a pooled kernel to reset itself (without waiting): the kernel resets while this
        process renders the page it just executed."""
        if self.pooled and self.shell is not None and self.pending_reset is None:
            self.pending_reset = self.shell.execute(KERNEL_RESET, store_history=False,
                                                    allow_stdin=False)

    def prepare(self) -> None:
        """Make sure a reused kernel is back to the state it had just after its warm-up."""
        if self.pooled and self.uses:
            self.start_reset()
            self._wait_reset()
        self.uses += 1

    def _wait_reset(self, timeout: float | None = None) -> None:
        """Wait for the reply of the execution sent through the shell client (default timeout:
        the kernel's start timeout)."""
        import queue

        msg_id, self.pending_reset = self.pending_reset, None
        if msg_id is None:
            return
        deadline = time.monotonic() + (self.start_timeout if timeout is None else timeout)
        while True:
            remaining = deadline - time.monotonic()
            try:
                if remaining <= 0:
                    raise queue.Empty
                msg = self.shell.get_shell_msg(timeout=remaining)
            except queue.Empty:
                raise TimeoutError("le noyau ne s'est pas réinitialisé à temps") from None
            if msg.get("parent_header", {}).get("msg_id") == msg_id:
                break
        content = msg.get("content", {})
        if content.get("status") != "ok":
            raise RuntimeError(f"réinitialisation du noyau impossible : {content.get('ename')} "
                               f"{content.get('evalue')}")

    def alive(self) -> bool:
        from jupyter_core.utils import run_sync

        try:
            return bool(run_sync(self.km.is_alive)())
        except Exception:
            return False

    def kill(self) -> None:
        """Kill the kernel's process, nothing else (safe from any thread)."""
        try:
            if self.process is not None:
                self.process.kill()
        except Exception:
            pass

    def shutdown(self) -> None:
        """Stop the kernel and close its clients; once (a second call does nothing)."""
        with _kernels_lock:
            _live_kernels.discard(self)
            if self.stopped:
                return
            self.stopped = True
        try:
            self.km.close_clients()
            if self.shell is not None:
                self.shell.stop_channels()
        except Exception:
            pass
        try:
            from jupyter_core.utils import run_sync

            run_sync(self.km.shutdown_kernel)(now=True)
        except Exception:
            try:
                self.kill()
                cleanup = self.km.cleanup_resources
                if inspect.iscoroutinefunction(cleanup):  # the asynchronous manager's
                    run_sync(cleanup)()
                else:
                    cleanup()
            except Exception:
                pass


_live_kernels: set[_Kernel] = set()
_kernels_lock = threading.Lock()
_thread_state = threading.local()


def shutdown_kernels() -> int:
    """Shut down every kernel started by this process (pooled or not, pre-started ones still
    warming up included); returns how many."""
    discard_prestarted()
    with _kernels_lock:
        kernels = list(_live_kernels)
    for k in kernels:
        k.shutdown()
    return len(kernels)


class _Prestart:
    """A pooled kernel being started in a background thread (:func:`prestart_kernels`)."""

    def __init__(self, root: str, token: str, warm_modules: tuple[str, ...], start_timeout: float,
                 detached: bool):
        self.settings = (root, token, tuple(warm_modules), bool(detached))
        self.kernel: _Kernel | None = None
        self.starting: _Kernel | None = None  # launched, still warming up
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._build, args=(start_timeout,), daemon=True,
                                       name="plancadre-noyau")

    def _build(self, start_timeout: float) -> None:
        root, token, warm_modules, detached = self.settings
        try:
            self.kernel = _Kernel(root, token, warm_modules, start_timeout, pooled=True,
                                  detached=detached, prestart=self)
        except BaseException:  # noqa: BLE001 - a discarded kernel's wait ends cancelled
            # the worker that would have taken it starts its own; a launched one is stopped
            self.kernel = None
            if self.starting is not None:
                self.starting.shutdown()
        finally:
            self.done.set()

    def launched(self, kernel: _Kernel) -> bool:
        """Called (under the pool's lock) once the kernel's process exists; True if discarded."""
        self.starting = kernel
        return _prestart_cancelled.is_set()


#: Kernels started before the run knows its pages, taken by the first workers that need one.
_prestarted: list[_Prestart] = []
#: Set by :func:`discard_prestarted`: a kernel still starting stops as soon as it is launched.
_prestart_cancelled = threading.Event()


def prestart_kernels(count: int, *, root: str, token: str, warm_modules: tuple[str, ...],
                     start_timeout: float, detached: bool = False) -> int:
    """Start ``count`` pooled kernels now, each in a background thread, while the caller validates
    its inputs and plans the pages: start-up and warm-up imports (about 2 s of a core each) then
    overlap that work instead of following it. :func:`acquire_kernel` takes them; the ones no page
    took are stopped by :func:`discard_prestarted`. Returns how many were started."""
    _prestart_cancelled.clear()
    for _ in range(max(0, count)):
        pre = _Prestart(root, token, warm_modules, start_timeout, detached)
        with _kernels_lock:
            _prestarted.append(pre)
        pre.thread.start()
    return max(0, count)


def _take_prestarted(task: PageTask) -> _Kernel | None:
    wanted = (task.root, task.run_token, tuple(task.warm_modules), bool(task.keep_kernel))
    with _kernels_lock:
        pre = next((p for p in _prestarted if p.settings == wanted), None)
        if pre is not None:
            _prestarted.remove(pre)
    if pre is None:
        return None
    pre.done.wait()
    return pre.kernel


def discard_prestarted() -> int:
    """Stop the pre-started kernels no page took, those still warming up included; returns how
    many. A kernel still warming up is only killed (its process): the thread building it owns its
    clients (ZeroMQ sockets are not to be closed from another thread), sees the kernel die within
    half a second and stops it itself."""
    with _kernels_lock:
        _prestart_cancelled.set()
        left = list(_prestarted)
        _prestarted.clear()
        starting = [p.starting for p in left if p.starting is not None and not p.done.is_set()]
    for kernel in starting:
        kernel.kill()
    for pre in left:
        pre.done.wait()
        if pre.kernel is not None:  # built meanwhile: its builder is done with it
            pre.kernel.shutdown()
    return len(left)


def acquire_kernel(task: PageTask) -> _Kernel:
    if not task.reuse_kernels:
        return _Kernel(task.root, task.run_token, (), task.start_timeout, pooled=False)
    kernel: _Kernel | None = getattr(_thread_state, "kernel", None)
    if kernel is not None and (kernel.token != task.run_token or kernel.root != task.root
                               or kernel.warm_modules != tuple(task.warm_modules)
                               or not kernel.alive()):
        kernel.shutdown()
        kernel = None
    if kernel is None:
        kernel = _adopt_kept(task)
    if kernel is None:
        kernel = _take_prestarted(task)
    if kernel is None:
        kernel = _Kernel(task.root, task.run_token, task.warm_modules, task.start_timeout, pooled=True,
                         detached=task.keep_kernel)
    _thread_state.kernel = kernel
    return kernel


#: A kept kernel offered to this run (:func:`offer_kept_kernel`), taken by the first worker.
_offered: dict | None = None


def offer_kept_kernel(entry: dict | None) -> None:
    """Let the first worker of this run adopt the kept kernel ``entry`` (:mod:`.resident`)."""
    global _offered
    with _kernels_lock:
        previous, _offered = _offered, entry
    if entry is None and previous is not None:  # offered, never taken: not left running unnamed
        from .resident import stop_process

        stop_process(int(previous["pid"]))


def _adopt_kept(task: PageTask) -> _Kernel | None:
    global _offered
    with _kernels_lock:
        entry, _offered = _offered, None
    if entry is None:
        return None
    try:  # reset by the page's prepare(), which replaces it if it does not answer
        return _Kernel(task.root, task.run_token, task.warm_modules, task.start_timeout,
                       pooled=True, adopt=entry)
    except Exception:
        from .resident import stop_process

        stop_process(int(entry["pid"]))
        return None


def keep_one_kernel(root: str, key: str, minutes: float) -> bool:
    """At the end of a ``--garder-noyau`` run: keep one healthy detached kernel (registered by
    :func:`.resident.register`, stopping by itself after ``minutes`` idle); True if one was kept.
    The other kernels are left to :func:`shutdown_kernels`."""
    from . import resident
    from .resident import WATCH_CODE

    with _kernels_lock:
        candidates = [k for k in _live_kernels if k.pooled and k.detached and k.root == root]
    for kernel in candidates:
        try:
            if not kernel.alive():
                continue
            kernel._wait_reset()  # the reset started after its last page, if any
            kernel.run_shell(WATCH_CODE.format(minutes=minutes), timeout=30)
            pid = kernel.pid
            if pid is None:
                continue
            resident.register(root, key, kernel.km.get_connection_info(session=False), pid)
        except Exception:
            continue
        with _kernels_lock:
            _live_kernels.discard(kernel)
        if getattr(_thread_state, "kernel", None) is kernel:
            _thread_state.kernel = None
        try:
            kernel.km.close_clients()
            kernel.shell.stop_channels()
        except Exception:
            pass
        return True
    return False


def release_kernel(kernel: _Kernel, healthy: bool) -> None:
    kernel.km.close_clients()
    if not kernel.pooled or not healthy:
        if getattr(_thread_state, "kernel", None) is kernel:
            _thread_state.kernel = None
        kernel.shutdown()


atexit.register(shutdown_kernels)
