"""Sharing IAUnet on the Hugging Face Hub: model cards, push, dataset upload, ONNX export, checkpoint conversion."""
