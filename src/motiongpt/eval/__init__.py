"""motiongpt.eval: metrics, the T2M evaluator and the evaluation protocol.

Submodules (imported on use, so ``import motiongpt.eval`` stays cheap):

* ``metrics``: R-precision, FID, MM-Dist, Diversity, MultiModality, ADE/FDE, mean ± 95 % CI.
* ``text_metrics``: BLEU@1/4, ROUGE-L, CIDEr, METEOR, BERTScore for motion-to-text.
* ``recon``: MPJPE, PA-MPJPE, acceleration error of the tokenizer.
* ``evaluator``: ``T2MEvaluator`` (ours, or the official checkpoint via ``from_official``).
* ``evaluator_train``: ``train_evaluator`` on any HumanML3D-format corpus.
* ``protocol``: ``evaluate_t2m`` / ``evaluate_m2t`` / ``evaluate_pred`` / ``evaluate_inbetween``.
* ``run``: ``run_evaluation``, what ``motiongpt eval`` calls (loads data, evaluator and model).
* ``report``: ``format_table`` in the paper's layout.
"""
