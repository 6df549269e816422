"""Set-up of a pooled kernel, run once in each warm kernel after its warm-up imports.

:func:`setup` snapshots the state a notebook may change and installs ``restore()`` and ``reset()``
(``%reset -f``, then ``restore()``) in the module ``_plancadre_pool`` (``sys.modules``); the runner
calls ``reset()`` before each following
notebook, so that every notebook starts from the state the warm-up left. The library
(``plancadre_eval.*``) stays loaded from one notebook to the next: its caches are keyed by file
contents (e.g. ``evaluation._COLLECTIONS``) and every page imports it anyway. Any other module
imported from the project folder (the kernel's working folder) is forgotten, so that its
import-time effects happen again, as in a fresh kernel. Matplotlib's backend and IPython's figure
display, rcParams, pandas options, warning filters, working folder, environment and ``sys.path``
are put back. (The user namespace is emptied by ``%reset -f`` and the execution counter restarts at
1: see :data:`plancadre_eval.runner.kernels.KERNEL_RESET`.)

The kernel receives this file's source (:func:`plancadre_eval.runner.kernels.setup_code`), then
``setup()``: nothing is imported from the project into the kernel for it. Standard library only,
every import inside :func:`setup`; no ``from __future__`` import (the source is run as a cell).
"""


def setup(gc_thresholds=(50_000, 20, 100)):
    """Snapshot the kernel's state and install ``sys.modules["_plancadre_pool"].restore()``."""
    # run in an execution of its own, after the imports: IPython finishes setting up matplotlib's
    # inline display in hooks that run at the end of the importing execution
    import os, sys, types, warnings
    state = types.ModuleType("_plancadre_pool")
    state.cwd = os.getcwd()
    state.root = os.path.abspath(os.getcwd()) + os.sep
    state.prefixes = {sys.prefix, sys.base_prefix, sys.exec_prefix}  # the venv may be in the project
    state.environ = dict(os.environ)
    state.path = list(sys.path)
    state.filters = list(warnings.filters)
    state.rc = None
    state.backend = None
    state.pandas = {}
    state.pyplot_imported = "matplotlib.pyplot" in sys.modules
    state.backend_loaded = getattr(sys.modules.get("matplotlib.pyplot"), "_backend_mod", None) is not None
    state.modules_before_backend = set(sys.modules)
    if "matplotlib" in sys.modules:
        import matplotlib
        state.rc = matplotlib.rcParams.copy()
        state.backend = matplotlib.rcParams._get("backend") if hasattr(matplotlib.rcParams, "_get") \
            else matplotlib.rcParams["backend"]
    if "pandas" in sys.modules:
        import pandas
        try:
            for key in list(pandas._config.config._registered_options):
                try:
                    state.pandas[key] = pandas.get_option(key)
                except Exception:
                    pass
        except Exception:
            pass

    def _project_module(name, module):
        if name == "plancadre_eval" or name.startswith("plancadre_eval."):
            return False  # the library stays loaded, with its content-keyed caches
        path = getattr(module, "__file__", None)
        if not path:
            return False
        path = os.path.abspath(path)
        return path.startswith(state.root) and not any(
            path.startswith(os.path.abspath(p) + os.sep) for p in state.prefixes)

    state.modules = {n for n, m in sys.modules.items() if not _project_module(n, m)}

    # IPython's figure display (formatters for matplotlib figures, post-execute hooks, inline
    # backend bookkeeping): a notebook switching backend changes it.
    def _figure_display():
        from IPython import get_ipython
        ip = get_ipython()
        if ip is None or "matplotlib.figure" not in sys.modules:
            return None
        from matplotlib.figure import Figure
        inline = sys.modules.get("matplotlib_inline.backend_inline")
        support = getattr(inline, "configure_inline_support", None)
        return {
            "printers": {mime: f.type_printers.get(Figure)
                         for mime, f in ip.display_formatter.formatters.items()},
            "ipython_display": ip.display_formatter.ipython_display_formatter.type_printers.get(Figure),
            "post_execute": list(ip.events.callbacks.get("post_execute", [])),
            "post_run_cell": list(ip.events.callbacks.get("post_run_cell", [])),
            "current_backend": getattr(support, "current_backend", None) if support else None,
            "has_current": hasattr(support, "current_backend") if support else False,
            "saved_rc": dict(getattr(ip, "_saved_rcParams", {}) or {}) if hasattr(ip, "_saved_rcParams") else None,
        }

    def _restore_figure_display(snap):
        if snap is None:
            return
        from IPython import get_ipython
        from matplotlib.figure import Figure
        ip = get_ipython()
        for mime, f in ip.display_formatter.formatters.items():
            printer = snap["printers"].get(mime)
            if printer is None:
                f.type_printers.pop(Figure, None)
            else:
                f.type_printers[Figure] = printer
        disp = ip.display_formatter.ipython_display_formatter
        if snap["ipython_display"] is None:
            disp.type_printers.pop(Figure, None)
        else:
            disp.type_printers[Figure] = snap["ipython_display"]
        ip.events.callbacks["post_execute"][:] = snap["post_execute"]
        ip.events.callbacks["post_run_cell"][:] = snap["post_run_cell"]
        inline = sys.modules.get("matplotlib_inline.backend_inline")
        support = getattr(inline, "configure_inline_support", None)
        if support is not None:
            if snap["has_current"]:
                support.current_backend = snap["current_backend"]
            elif hasattr(support, "current_backend"):
                del support.current_backend
        if snap["saved_rc"] is None:
            if hasattr(ip, "_saved_rcParams"):
                del ip._saved_rcParams
        else:
            ip._saved_rcParams = dict(snap["saved_rc"])

    state.display = _figure_display()

    def restore():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if "matplotlib.pyplot" in sys.modules:
                sys.modules["matplotlib.pyplot"].close("all")
            for name, module in list(sys.modules.items()):
                if name not in state.modules and _project_module(name, module):
                    del sys.modules[name]
            pyplot = sys.modules.get("matplotlib.pyplot")
            if pyplot is not None and state.pyplot_imported:
                if not state.backend_loaded:
                    # pyplot loads its backend at the first figure, and the inline backend then
                    # hooks figure display into IPython: forget both, so that the next notebook's
                    # first figure (or matplotlib.use) sets them up as in a fresh kernel
                    pyplot._backend_mod = None
                    for name in ("matplotlib_inline.backend_inline",):
                        if name not in state.modules_before_backend:
                            sys.modules.pop(name, None)
                elif state.backend is not None:
                    import matplotlib
                    if matplotlib.get_backend() != state.backend:
                        pyplot.switch_backend(state.backend)
            _restore_figure_display(state.display)
            if state.rc is not None:
                import matplotlib
                matplotlib.rcParams.update(state.rc)
            if state.pandas:
                import pandas
                for key, value in state.pandas.items():
                    try:
                        if pandas.get_option(key) != value:
                            pandas.set_option(key, value)
                    except Exception:
                        pass
        warnings.filters[:] = state.filters
        try:
            warnings._filters_mutated()
        except Exception:
            pass
        import gc
        gc.set_threshold(*state.gc_thresholds)
        os.chdir(state.cwd)
        os.environ.clear()
        os.environ.update(state.environ)
        sys.path[:] = state.path

    def reset():
        """``%reset -f`` then :func:`restore`. ``%reset`` ends with a full garbage collection
        (IPython's output cache flush), 0.15 s with pandas and matplotlib loaded; the young
        generations are enough here (the automatic collector handles the rest as usual)."""
        import gc
        from IPython import get_ipython
        full = gc.collect
        gc.collect = lambda generation=2: full(min(generation, 1))
        try:
            get_ipython().run_line_magic("reset", "-f")
        finally:
            gc.collect = full
        restore()

    def watch(minutes):
        """Exit this kernel after ``minutes`` without an execution: a kernel kept warm between
        two commands (:mod:`plancadre_eval.runner.resident`) has no parent to stop it."""
        import threading
        import time
        from IPython import get_ipython
        state.idle_limit = float(minutes) * 60
        state.last_use = time.monotonic()
        if getattr(state, "watching", False):
            return
        state.watching = True

        def touch(*args):
            state.last_use = time.monotonic()

        get_ipython().events.register("pre_execute", touch)

        def loop():
            while True:
                time.sleep(min(5.0, max(state.idle_limit / 2, 0.05)))
                if time.monotonic() - state.last_use > state.idle_limit:
                    os._exit(0)

        threading.Thread(target=loop, daemon=True, name="plancadre-veille").start()

    state.restore = restore
    state.reset = reset
    state.watch = watch
    sys.modules["_plancadre_pool"] = state

    # The garbage collector: the warm-up's objects (pandas, matplotlib, the library: about a
    # million) are frozen out of its full collections, and collections are rarer; a page drops
    # cyclic garbage (every figure) that young collections free. On the 35 pages of 2021 the
    # collector took 1.3 s out of 10.7 s, 0.55 s so; 7.7 s out of 51 s for the four years,
    # 3.6 s so (18 MB more at most). ``gc_thresholds``: Python's default is (700, 10, 10).
    import gc
    gc.collect()
    gc.freeze()
    gc.set_threshold(*gc_thresholds)
    state.gc_thresholds = gc.get_threshold()
