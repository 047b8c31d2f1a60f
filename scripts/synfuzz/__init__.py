"""synack's fuzzer (issue 9): random and mutated segments, packets, user calls and
timer advances thrown at an endpoint in every state, with the invariants checked
after every input.  ``scripts/fuzz.py`` is the command; ``docs/FUZZ.md`` says what it
does and how to read its output.

- :mod:`synfuzz.common`: the payload pattern, the ISN source, addresses, failures;
- :mod:`synfuzz.peer`: the scripted peer that plays the other end of each connection;
- :mod:`synfuzz.mutate`: mutations of segments and of raw packets;
- :mod:`synfuzz.check`: the invariants;
- :mod:`synfuzz.driver`: one endpoint, the tape of every call made to it, replay,
  shrinking and the reproducer file;
- :mod:`synfuzz.engine`: episodes (a configuration, a state reached with real
  segments, then random inputs) and the timed run.
"""
