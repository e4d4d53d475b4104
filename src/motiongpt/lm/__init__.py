"""motiongpt.lm"""
