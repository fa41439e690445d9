import pytest

from worksignal.config import setting
from worksignal.errors import UsageError


def test_a_setting_comes_from_the_flag_then_the_environment_then_the_default(monkeypatch):
    monkeypatch.delenv("WORKSIGNAL_WORK_PRIOR", raising=False)
    assert setting("work_prior") == 0.0
    monkeypatch.setenv("WORKSIGNAL_WORK_PRIOR", "0.55")
    assert setting("work_prior") == 0.55
    assert setting("work_prior", 0.3) == 0.3


@pytest.mark.parametrize(("raw", "message"), [("abc", "WORKSIGNAL_WORK_PRIOR='abc' is not a valid float"),
                                              ("1.5", "work_prior must be at most 0.99"),
                                              ("-0.1", "work_prior must be at least 0.0")])
def test_a_bad_environment_value_is_a_usage_error_that_names_it(monkeypatch, raw, message):
    monkeypatch.setenv("WORKSIGNAL_WORK_PRIOR", raw)
    with pytest.raises(UsageError, match=message.replace(".", r"\.").replace("(", r"\(")):
        setting("work_prior")
