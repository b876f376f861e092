"""How a look-alike compares with its photo: pixels, statistics, what it shows."""
