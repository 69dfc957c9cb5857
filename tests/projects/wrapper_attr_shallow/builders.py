from nets.mlp import MLP


def get_model(device, args):
    act = args.activation
    if args.model == "mlp":
        model = MLP(args.width, depth=args.layers, act=act)
    else:
        raise ValueError(args.model)
    return model.to(device)
