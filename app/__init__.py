"""Kaltim Land API: land information for East Kalimantan's industrial zones."""
