"""Triton Python backend: text -> all-MiniLM-L6-v2 word pieces, for the GPU embedder ensemble.

Each request is padded to the smallest of `WIDTHS` that holds its longest text, so Triton's
dynamic batcher can put concurrent requests of one width into one `colog_sentence` call.
"""

import triton_python_backend_utils as pb_utils

from colog.core.serving.onnx_runtime import padded_word_pieces, sentence_tokenizer


class TritonPythonModel:
    def initialize(self, args):
        self.tokenizer = sentence_tokenizer()

    def execute(self, requests):
        responses = []
        for request in requests:
            raw = pb_utils.get_input_tensor_by_name(request, "text").as_numpy().reshape(-1)
            texts = [v.decode("utf-8", errors="replace") if isinstance(v, bytes) else str(v)
                     for v in raw]
            ids, mask = padded_word_pieces(self.tokenizer, texts)
            responses.append(pb_utils.InferenceResponse(output_tensors=[
                pb_utils.Tensor("input_ids", ids), pb_utils.Tensor("attention_mask", mask)]))
        return responses
