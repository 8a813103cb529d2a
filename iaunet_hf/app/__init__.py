"""The web app (``iaunet-app``): Search, Attention, Compare and Track views of any model the package loads.

The views' logic (``search``, ``attention``, ``compare``, ``track``) works on plain images and arrays and meets
the model only through ``iaunet_hf.inference``; ``ui`` is the Gradio face over them and needs ``gradio``
(``pip install "iaunet-hf[app]"``). Nothing here is imported by ``import iaunet_hf``.
"""
