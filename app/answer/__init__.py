"""The answer as every client surface sees it: one surface-neutral stream of typed events.

events.py names the events; stages.py turns upstream events into them and adds part
boundaries and usage; app/output.py applies the output limits; reply.py builds a whole
(non-streamed) reply from the stream; driver.py streams it through a surface's renderer.
"""
