"""Sharing IAUnet on the Hugging Face Hub: model cards, push, dataset upload, checkpoint conversion.

Export moved to `iaunet_hf.export`; `hub.export*` are deprecated re-exports kept for one release."""
