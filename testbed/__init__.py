"""What the tests and the benches both stand on, and the wheel does not ship: the imitation
servers (real HTTP on 127.0.0.1, answering as the real APIs document, with faults to
inject), and finding the processes a command started."""
