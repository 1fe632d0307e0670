"""Reading a frame, headless: the Session (what is open), the Document (one frame's mask, score, label),
the MaskEditor (raster editing with undo) and the ReadingController (open, step, save, accept, autosave).

The desktop window (c5desk.gui) renders these and forwards the user's actions to them; tests and scripts
drive them directly, without a display.
"""
