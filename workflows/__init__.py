"""The denial workflow as data: states, transitions, classification, routing and guards."""
