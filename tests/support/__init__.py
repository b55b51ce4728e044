"""The test kit, shared by every suite and by `bench/`.

In process: `make_config` (config.py), `RecordingMessenger` (fakes.py), the dispatcher
`Harness` (harness.py), who may run which command where (command_table.py), the fake
homeserver the chat layer runs against (chat_fakes.py), coffee and circles scaffolding
(rounds.py), the crisis services (crisis_world.py), the bundled and the counting encoder
(encoders.py). Against a real Synapse: `BotProcess` (bot_process.py), `MatrixUser`
(matrix_user.py, its sync loop in matrix_sync.py), the `Homeserver` admin client
(homeserver.py), store seeding (seed.py), encrypted rooms, the greeting, answers, store rows
and quick config sections (live.py), the bot's chat side with room retirement
(retirement_bot.py), the rate-limit scenarios (scenarios.py), proxies and the outage run,
and the fault entry point the bot process is started through when a test injects a fault
(faults.py).
The pytest fixtures are in fixtures.py, registered once by `tests/conftest.py`.
"""
