"""motiongpt.render"""
