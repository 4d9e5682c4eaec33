"""One citizen's call: the pure state machine (`machine`), the waiting line (`queue`),
ARI events decoded for it (`ari_events`), the runner that performs it over ARI
(`runner`), its rows (`repository`) and the terminal table (`formatting`).

Import the submodules themselves; this package imports none of them, so that a
repository user does not load the runner."""
