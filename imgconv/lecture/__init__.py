"""The lecture on convolutional neural networks, as commands: why convolution
(`params`), a convolution layer as deep learning computes it (`layers`), the sliding
kernel animated (`animate`), and a kernel learned from an example (`learn`).

Each module owns its command's work, file reading and checks included; the command line
only parses options and calls one function of it.
"""
