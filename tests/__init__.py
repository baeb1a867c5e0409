"""The test suite, a package so that every helper module is imported once, as ``tests.NAME``
(``from tests.helpers import ok``), and test files in different folders may share a name.

tests/<part>/test_<module>.py tests asaas/<part>/<module>.py; tests/test_<module>.py a top-level
module of asaas/ or the project as a whole (docs, wheel). conftest.py holds the fixtures every
test uses, a folder's conftest.py those of its part; the other modules here build test data
(reviews_data, tiny_models, timeline_data, events_alerts_data, readme_data), serve fakes
(fake_steam, pg) or check what the machine has (requires).
"""
