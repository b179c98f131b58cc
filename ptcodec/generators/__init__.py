"""One-step generators: the model that turns (noise latent, prompt) into a frame.

`onestep` holds the sampler math shared by every generator. The generator
interface, its registry, the SD-Turbo loader and the spec's reference
generator are issue 3's remaining work.
"""
