from ..fmt import pad
