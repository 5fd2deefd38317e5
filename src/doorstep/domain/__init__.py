"""The domain core: pure logic on plain values, standard library only."""
