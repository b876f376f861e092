"""The software-defined assets: a day's photos, their look-alikes, the gallery."""
