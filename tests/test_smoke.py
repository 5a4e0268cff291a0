from newsletter.context import Context


def test_context_migrates_twice(ctx: Context) -> None:
    ctx.init_db()
