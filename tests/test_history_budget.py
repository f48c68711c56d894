"""The history is bounded in bytes: older results leave memory if kept on disk, and go past the disk budget."""

from studio.history_budget import Held, HistoryBudget, MiB, default_budget, plan


def test_older_results_leave_memory_first_and_are_dropped_past_the_disk_budget():
    budget = HistoryBudget(memory_bytes=400 * MiB, disk_bytes=1000 * MiB)
    big = 190 * MiB  # one 16-megapixel float32 result
    entries = [Held(big, big, True) for _ in range(8)]
    spill, drop = plan(entries, budget)
    assert spill == [2, 3, 4]  # 0 and 1 fill the memory budget
    assert drop == [5, 6, 7]  # 5 * 190 MB fill the disk budget


def test_without_a_kept_session_an_old_result_over_the_memory_budget_is_dropped():
    budget = HistoryBudget(memory_bytes=10 * MiB, disk_bytes=1000 * MiB)
    spill, drop = plan([Held(6 * MiB, 6 * MiB, False)] * 3, budget)
    assert spill == [] and drop == [1, 2]


def test_the_newest_result_is_always_kept_and_small_results_are_many():
    budget = HistoryBudget(memory_bytes=MiB, disk_bytes=MiB)
    assert plan([Held(50 * MiB, 50 * MiB, True)], budget) == ([], [])
    small = 3 * 512 * 512 * 4  # a 512 px float32 result: 3 MB
    many = [Held(small, small, True)] * 200
    spill, drop = plan(many, HistoryBudget(2048 * MiB, 8192 * MiB))
    assert spill == [] and drop == []


def test_the_default_budget_is_bounded():
    b = default_budget()
    assert 256 * MiB <= b.memory_bytes <= 2048 * MiB
    assert 512 * MiB <= b.disk_bytes <= 8192 * MiB
