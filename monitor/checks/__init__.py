"""The check library: what happens when an account is checked, whoever asks.

    fetch     Checker: adapters with politeness -> what each check saw (no verdicts)
    record    record(): observations -> store, verdict, flips, alerts, schedule,
              source health, outbox, in one transaction
    verdicts  verdicts from evidence at any date; the stored current verdicts
    alerts    unit and operator alerts from verdicts and check streaks
    notify    alert events -> outbox rows -> apprise
    timing    when to check again (pure)
    backoff   a source's (or host's) run of refusals -> a pause (pure)
    pacing    request pacing (pure asyncio)

The daemon, `monitor check`, `POST /api/accounts/{id}/check`, `monitor observe`, the
demo and distributed workers all record through `record`.
"""
