class SigmoidMLP:  # the same name, another class: its calls are not the model's
    def __init__(self, width, depth):
        self.depth = depth


other = SigmoidMLP(64, depth=40)
