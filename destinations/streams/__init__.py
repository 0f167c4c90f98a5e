"""Event streams and workflows: spooled events forwarded to destinations within seconds.

| module | owns |
| --- | --- |
| `config.py` | the `streams` and `workflows` sections of headwater.yml |
| `events.py` | one message as the fields vendors read (`EventView`), and the stream filters |
| `consent.py` | suppression and consent, read live from the events and remembered per person |
| `transform.py` | a stream's Python transformation, run so it can never stop the stream |
| `state.py` | cursors, consent, dead letters, counters and workflow runs in one SQLite file |
| `forwarder.py` | following the spool (`SpoolFollower`) and one stream's delivery (`StreamRunner`) |
| `workflows.py` | triggers, waits, `unless`, actions once per trigger instance |
| `service.py` | `headwater stream`: every stream and the workflow engine side by side |
| `publish.py` | `cdp.stream_dead_letters` and `cdp.workflow_runs`, copied to the warehouse |
| `preview.py`, `replay.py`, `commands.py` | `headwater stream test`, `replay`, `status` |

May import headwater, sources.collect and the destinations modules; never pipelines or models.
"""
