"""`make test`'s scheduling on xdist workers: each test file goes to one worker as a whole,
and all notebooks go to one worker together, in collection order, since a notebook reuses
the runs an earlier one trained (through the run cache) and two must never train one run
folder at once."""


def pytest_xdist_make_scheduler(config, log):
    from xdist.scheduler import LoadFileScheduling

    class NotebooksInOrder(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            path = nodeid.split("::", 1)[0]
            return "notebooks" if path.endswith(".ipynb") else path

    return NotebooksInOrder(config, log)
