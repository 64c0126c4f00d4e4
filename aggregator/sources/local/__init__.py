"""sources/local"""
