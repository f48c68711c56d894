"""The one job runner: worker thread, queued signals, cooperative cancel, errors, live updates."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from PySide6.QtCore import QTimer

from studio.engines.events import Finished, Info, JobControl, Progress
from studio.ui.job_runner import JobRunner, JobSpec


def counting_job(n=1000, step_s=0.01, seen_threads=None, updates=None, fail_at=None, busy=False):
    def run(control: JobControl):
        if seen_threads is not None:
            seen_threads.append(threading.get_ident())
        yield Info("Feature network: test; device: CPU", {"weights": "test", "device": "CPU"})
        t0 = time.perf_counter()
        a = np.random.default_rng(0).random((160, 160)).astype(np.float32)
        for i in range(n):
            if control.cancelled:
                yield Finished(np.zeros((4, 4, 3), np.float32), True, i, time.perf_counter() - t0)
                return
            u = control.take_updates()
            if u and updates is not None:
                updates.append(u)
            if fail_at == i:
                raise ValueError("the test engine broke")
            if busy:  # CPU work, like an engine: numpy releases the GIL inside the matmuls
                end = time.perf_counter() + step_s
                while time.perf_counter() < end:
                    a = (a @ a) / 160.0
            else:
                time.sleep(step_s)
            yield Progress(i + 1, n, "s", {"total": 1.0 / (i + 1)}, time.perf_counter() - t0, None)
        yield Finished(np.ones((4, 4, 3), np.float32), False, n, time.perf_counter() - t0)

    return run


def spec(run, **kw):
    return JobSpec(workspace="test", engine="test", run=run, params=None, **kw)


@pytest.fixture
def runner(qtbot):
    r = JobRunner(debounce_ms=50)
    yield r
    assert r.shutdown(5.0)


def test_events_arrive_on_the_ui_thread_from_a_worker(qtbot, runner):
    threads: list[int] = []
    got = []
    runner.progress.connect(lambda job, p: got.append((threading.get_ident(), p.iteration)))
    runner.info.connect(lambda job, msg: got.append(("info", msg)))
    with qtbot.waitSignal(runner.finished, timeout=5000) as fin:
        job = runner.start(spec(counting_job(n=5, step_s=0.001, seen_threads=threads)))
    assert fin.args[0] is job and not fin.args[1].cancelled
    assert threads and threads[0] != threading.get_ident()  # the generator ran on the worker
    assert got[0] == ("info", "Feature network: test; device: CPU")
    assert [it for t, it in got[1:]] == [1, 2, 3, 4, 5]
    assert all(t == threading.get_ident() for t, _ in got[1:])  # slots ran on the UI thread
    qtbot.waitUntil(lambda: not runner.is_running())


def test_stop_within_half_a_second(qtbot, runner):
    started = []
    runner.progress.connect(lambda job, p: started.append(p.iteration))
    job = runner.start(spec(counting_job(n=100000, step_s=0.02)))
    qtbot.waitUntil(lambda: len(started) >= 3, timeout=5000)
    t0 = time.perf_counter()
    with qtbot.waitSignal(runner.finished, timeout=2000) as fin:
        runner.stop()
    assert time.perf_counter() - t0 < 0.5
    assert fin.args[1].cancelled and job.control.cancelled


def test_an_exception_becomes_a_message_and_the_next_job_runs(qtbot, runner):
    with qtbot.waitSignal(runner.failed, timeout=5000) as failed:
        runner.start(spec(counting_job(n=10, step_s=0.001, fail_at=2)))
    assert "the test engine broke" in failed.args[1]
    assert "ValueError" in failed.args[2]  # the traceback, for the log / details
    qtbot.waitUntil(lambda: not runner.is_running())
    with qtbot.waitSignal(runner.finished, timeout=5000) as fin:
        runner.start(spec(counting_job(n=3, step_s=0.001)))
    assert not fin.args[1].cancelled


def test_an_input_error_is_its_sentence_without_a_traceback(qtbot, runner, caplog):
    """An empty folder of training images is the user's input, said in one sentence: the log had a whole
    traceback for it, and the notice sent the user to it."""
    from studio.engines.errors import StudioInputError

    def refuses(control: JobControl):
        raise StudioInputError("the folder 'photos' holds no image files.")
        yield  # a generator, as every job's run is

    with caplog.at_level("WARNING", logger="studio.ui"), qtbot.waitSignal(runner.failed, timeout=5000) as failed:
        runner.start(spec(refuses))
    assert failed.args[1] == "the folder 'photos' holds no image files." and failed.args[2] == ""
    assert "Traceback" not in caplog.text and "holds no image files" in caplog.text


def test_starting_again_stops_the_running_job(qtbot, runner):
    finished = []
    runner.finished.connect(lambda job, f: finished.append((job, f)))
    first = runner.start(spec(counting_job(n=100000, step_s=0.01)))
    qtbot.wait(50)
    second = runner.start(spec(counting_job(n=3, step_s=0.001)))
    assert first.control.cancelled and runner.current is second
    qtbot.waitUntil(lambda: len(finished) == 2, timeout=5000)
    assert finished[0][0] is first and finished[0][1].cancelled
    assert finished[1][0] is second and not finished[1][1].cancelled
    qtbot.waitUntil(lambda: not runner.is_running())


def test_live_updates_are_debounced_and_reach_the_engine(qtbot, runner):
    updates: list[dict] = []
    sent = []
    runner.live_update_sent.connect(lambda job, ch: sent.append(ch))
    runner.start(spec(counting_job(n=100000, step_s=0.01, updates=updates)))
    qtbot.wait(30)
    for v in (1.0, 2.0, 3.0, 4.0):  # a slider drag
        runner.request_update(style_weight=v)
        qtbot.wait(5)
    runner.request_update(tv_weight=0.5)
    qtbot.waitUntil(lambda: len(updates) >= 1, timeout=3000)
    assert sent == [{"style_weight": 4.0, "tv_weight": 0.5}]  # one merged update
    assert updates == [{"style_weight": 4.0, "tv_weight": 0.5}]
    runner.stop()
    qtbot.waitUntil(lambda: not runner.is_running(), timeout=3000)


def test_shutdown_during_a_job_ends_the_thread(qtbot):
    r = JobRunner()
    job = r.start(spec(counting_job(n=100000, step_s=0.01)))
    qtbot.wait(50)
    t0 = time.perf_counter()
    assert r.shutdown(5.0)
    assert time.perf_counter() - t0 < 1.0
    assert job.control.cancelled


def test_event_loop_answers_within_50ms_while_a_job_computes(qtbot, runner):
    """A 10 ms QTimer probe on the UI thread while the worker does CPU-heavy steps."""
    stamps: list[float] = []
    probe = QTimer()
    probe.setInterval(10)
    probe.timeout.connect(lambda: stamps.append(time.perf_counter()))
    runner.start(spec(counting_job(n=100000, step_s=0.05, busy=True)))
    probe.start()
    qtbot.wait(1200)
    probe.stop()
    runner.stop()
    qtbot.waitUntil(lambda: not runner.is_running(), timeout=3000)
    gaps = np.diff(stamps)
    assert len(gaps) > 20
    assert gaps.max() < 0.010 + 0.050, f"worst event-loop gap {gaps.max() * 1000:.0f} ms"


def test_a_superseded_job_sends_no_more_progress_but_its_result_still_arrives(qtbot, runner):
    progress: list[int] = []
    finished: list[int] = []
    runner.progress.connect(lambda job, p: progress.append(job.id))
    runner.finished.connect(lambda job, f: finished.append(job.id))
    first = runner.start(spec(counting_job(n=1000, step_s=0.005)))
    qtbot.waitUntil(lambda: first.id in progress, timeout=5000)
    second = runner.start(spec(counting_job(n=5, step_s=0.005)))
    cut = len(progress)
    qtbot.waitUntil(lambda: second.id in finished, timeout=10000)
    assert first.id in finished  # the stopped run's result reaches the history
    assert set(progress[cut:]) <= {second.id}  # nothing of the first after the second started


def test_the_job_spec_carries_its_live_hook(qtbot, runner):
    updates: list[dict] = []
    calls: list[tuple] = []

    def live(old, new):
        calls.append((old, new))
        return {"style_weight": new} if new != old else {}

    job = runner.start(spec(counting_job(n=1000, updates=updates), state=1, live=live))
    qtbot.waitUntil(lambda: job.last_progress is not None, timeout=5000)
    runner.offer_state("another workspace", 5)
    runner.offer_state("test", 7)
    qtbot.waitUntil(lambda: bool(updates), timeout=5000)
    assert calls == [(1, 7)] and updates[0] == {"style_weight": 7} and job.live_state == 7
    runner.stop()


def test_running_out_of_memory_is_told_as_the_command_line_tells_it():
    """One test of what ran out (errors.out_of_memory) for the window and the command line: the window missed the
    CPU allocator's words ("can't allocate memory") and sent a GPU's shortage and the CPU's to the same advice."""
    from studio.ui.job_runner import describe_error

    cpu = RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried to allocate 74 GB")
    assert describe_error(cpu) == "The job ran out of memory: try a smaller output size."
    gpu = RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")
    assert describe_error(gpu).startswith("The job ran out of the GPU's memory") and "CPU device" in describe_error(gpu)
    assert describe_error(RuntimeError("shapes do not match")).startswith("The job stopped with an error")
