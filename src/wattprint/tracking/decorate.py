"""The shapes of a decorated call: plain, generator, coroutine and async-generator functions each get a wrapper of
their own kind, so that the run covers the body's execution, not the creation of a generator or coroutine."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable
from contextlib import AbstractContextManager
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


def wrap_call(fn: F, scope: Callable[[Any], AbstractContextManager[None]]) -> F:
    """``fn`` wrapped so that each call runs inside ``scope(wrapper)`` (the run of that call)."""
    if inspect.isasyncgenfunction(fn):

        @functools.wraps(fn)
        async def agen_wrapper(*args: Any, **kwargs: Any) -> Any:
            with scope(agen_wrapper):
                agen = fn(*args, **kwargs)
                step: Callable[[], Awaitable[Any]] = agen.__anext__
                while True:  # relay asend()/athrow()/aclose(): async generators have no `yield from`
                    try:
                        item = await step()
                    except StopAsyncIteration:
                        return
                    try:
                        sent = yield item
                    except GeneratorExit:
                        await agen.aclose()
                        raise
                    except BaseException as e:  # thrown in by the consumer (athrow): passed on
                        step = functools.partial(agen.athrow, e)
                    else:
                        step = functools.partial(agen.asend, sent)

        return agen_wrapper  # type: ignore[return-value]

    if inspect.iscoroutinefunction(fn):

        @functools.wraps(fn)
        async def co_wrapper(*args: Any, **kwargs: Any) -> Any:
            with scope(co_wrapper):
                return await fn(*args, **kwargs)

        return co_wrapper  # type: ignore[return-value]

    if inspect.isgeneratorfunction(fn):

        @functools.wraps(fn)
        def gen_wrapper(*args: Any, **kwargs: Any) -> Any:
            with scope(gen_wrapper):
                return (yield from fn(*args, **kwargs))

        return gen_wrapper  # type: ignore[return-value]

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with scope(wrapper):
            return fn(*args, **kwargs)

    return wrapper  # type: ignore[return-value]
