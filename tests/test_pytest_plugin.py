"""The pytest plugin users get with taskcore: its fixtures, in a pytest run of their own."""

from __future__ import annotations

import importlib.metadata

import pytest

pytest_plugins = ["pytester"]

USER_TESTS = """
    import pytest
    from taskcore.tasks import TaskRegistry
    from taskcore.testing import drain

    @pytest.fixture
    def taskcore_tasks():
        tasks = TaskRegistry()

        @tasks.task(queue="mail")
        async def welcome(to: str) -> str:
            return "welcomed " + to

        return tasks

    {mark}
    async def test_a_delayed_task_runs_when_the_fake_clock_says(
        taskcore_app, taskcore_backend, taskcore_clock
    ):
        assert taskcore_app.backend is taskcore_backend
        await taskcore_app.task.enqueue_in(60_000, "welcome", {{"to": "ada"}})
        assert await drain(taskcore_backend, taskcore_app.tasks, clock=taskcore_clock) == 0
        taskcore_clock.advance(60.5)
        assert await drain(taskcore_backend, taskcore_app.tasks, clock=taskcore_clock) == 1

    {mark}
    async def test_each_test_has_a_namespace_of_its_own(taskcore_app):
        assert await taskcore_app.task.queues() == []
        await taskcore_app.task.enqueue("welcome", {{"to": "bo"}})
        assert await taskcore_app.task.length("mail") == 1
"""


def test_the_plugin_is_registered_as_a_pytest11_entry_point() -> None:
    points = importlib.metadata.entry_points(group="pytest11")
    assert {p.name: p.value for p in points}.get("taskcore") == "taskcore.pytest_plugin"


@pytest.mark.parametrize(
    ("mode", "mark"), [("auto", ""), ("strict", "@pytest.mark.asyncio")], ids=["auto", "strict"]
)
def test_users_get_an_app_a_backend_and_a_fake_clock(
    pytester: pytest.Pytester, mode: str, mark: str
) -> None:
    pytester.makeini(f"[pytest]\nasyncio_mode = {mode}\n")
    pytester.makepyfile(USER_TESTS.format(mark=mark))
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)


def test_the_tasks_fixture_discovers_the_configured_tasks_paths(pytester: pytest.Pytester) -> None:
    pytester.makepyprojecttoml(
        '[tool.taskcore]\ntasks_paths = ["jobs"]\n\n[tool.pytest.ini_options]\n'
        'asyncio_mode = "auto"\n'
    )
    pytester.mkdir("jobs")
    pytester.path.joinpath("jobs", "ping.py").write_text(
        "from taskcore.tasks import define_task\n\n@define_task()\ndef ping() -> str:\n"
        "    return 'pong'\n"
    )
    pytester.makepyfile(
        """
        from taskcore.testing import run_task

        async def test_discovered(taskcore_tasks, taskcore_app):
            assert taskcore_app.tasks is taskcore_tasks
            assert await run_task(taskcore_tasks, "ping") == "pong"
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
