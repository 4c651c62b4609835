import pytest
from flask import session


def test_every_request_gets_the_same_unwritable_session(app):
    with app.test_request_context("/"):
        first = session._get_current_object()
        assert dict(session) == {}
        with pytest.raises(RuntimeError, match="secret key"):
            session["user"] = 1
    with app.test_request_context("/"):
        assert session._get_current_object() is first


def test_plain_functions_and_methods_run_as_they_are_and_coroutines_are_wrapped(app):
    def plain():
        return "plain"

    async def coroutine():
        return "awaited"

    class View:
        def get(self):
            return "method"

    view = View()
    assert app.ensure_sync(plain) is plain
    assert app.ensure_sync(view.get) == view.get
    # Flask's own path for coroutines: wrapped, or refused where its async extra is not installed (here).
    try:
        wrapped = app.ensure_sync(coroutine)
    except RuntimeError as refused:
        assert "async" in str(refused)
    else:
        assert wrapped is not coroutine
