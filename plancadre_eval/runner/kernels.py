"""The kernel pool: one warm python3 kernel per worker thread, reset between notebooks.

A pooled kernel is started in the project root, imports the heavy modules once
(:data:`~plancadre_eval.runner.constants.DEFAULT_WARM_MODULES`), then runs
:mod:`plancadre_eval.runner.kernel_setup`; before each following notebook it is reset
(:data:`KERNEL_RESET`). A kernel that died or timed out is replaced.
"""

from __future__ import annotations

import atexit
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

KERNEL_RESET = (
    'get_ipython().run_line_magic("reset", "-f")\n'
    '__import__("sys").modules["_plancadre_pool"].restore()\n'
    'get_ipython().execution_count = 1\n'
)

_kernel_manager_class = None


def _manager_class():
    """AsyncKernelManager that remembers the clients it creates (papermill leaves them open when
    it does not own the kernel), so they can be closed after each notebook."""
    global _kernel_manager_class
    if _kernel_manager_class is None:
        from jupyter_client.manager import AsyncKernelManager

        class _TrackingKernelManager(AsyncKernelManager):
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
                 pooled: bool):
        from jupyter_core.utils import run_sync

        self.root, self.token, self.pooled = root, token, pooled
        self.warm_modules = tuple(warm_modules)
        self.start_timeout = start_timeout
        self.uses = 0
        self.km = _manager_class()(kernel_name=KERNEL_NAME)
        import subprocess

        # The kernel's own stdout/stderr (start-up warnings) would mix with the progress bar; what
        # the notebook prints reaches the notebook through the messaging channels, not these.
        run_sync(self.km.start_kernel)(cwd=root, env=kernel_environment(),
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        with _kernels_lock:
            _live_kernels.add(self)
        self.shell = None  # persistent client (shell channel only) for the resets
        self.pending_reset: str | None = None
        if pooled:
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

    def run_code(self, code: str, timeout: float) -> None:
        from jupyter_core.utils import run_sync

        async def _run():
            kc = self.km.client()
            kc.start_channels()
            try:
                await kc.wait_for_ready(timeout=timeout)
                reply = await kc.execute_interactive(code, store_history=False, timeout=timeout,
                                                     output_hook=lambda msg: None)
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

    def _wait_reset(self) -> None:
        import queue

        msg_id, self.pending_reset = self.pending_reset, None
        if msg_id is None:
            return
        deadline = time.monotonic() + self.start_timeout
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

    def shutdown(self) -> None:
        with _kernels_lock:
            _live_kernels.discard(self)
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
                proc = getattr(self.km.provisioner, "process", None)
                if proc is not None:
                    proc.kill()
                self.km.cleanup_resources()
            except Exception:
                pass


_live_kernels: set[_Kernel] = set()
_kernels_lock = threading.Lock()
_thread_state = threading.local()


def shutdown_kernels() -> int:
    """Shut down every kernel started by this process (pooled or not); returns how many."""
    with _kernels_lock:
        kernels = list(_live_kernels)
    for k in kernels:
        k.shutdown()
    return len(kernels)


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
        kernel = _Kernel(task.root, task.run_token, task.warm_modules, task.start_timeout, pooled=True)
        _thread_state.kernel = kernel
    return kernel


def release_kernel(kernel: _Kernel, healthy: bool) -> None:
    kernel.km.close_clients()
    if not kernel.pooled or not healthy:
        if getattr(_thread_state, "kernel", None) is kernel:
            _thread_state.kernel = None
        kernel.shutdown()


atexit.register(shutdown_kernels)
