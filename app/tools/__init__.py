"""Tools and structured output for every surface: the words to the model, parsing its answer back."""
