"""Live supervision (监听 / 密语 / 强插): a supervisor listens to a talking seat, whispers to
its operator or barges into the call, on the supervisor's own registered phone, through
ARI snoop channels. `session` decides (pure), `runner` performs over ARI, `repository`
keeps the log of every listen, whisper and barge."""
