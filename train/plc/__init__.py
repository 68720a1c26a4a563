"""Training recipe of the neural packet-loss concealer (mlcodec/models/plc_v1.bin)."""
